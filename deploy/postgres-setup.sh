#!/usr/bin/env bash
# deploy/postgres-setup.sh — create the PostgreSQL role and database for a multi-instance
# Kakehashi deployment (deploy/README.md, "Several instances on PostgreSQL"). Run as a
# PostgreSQL superuser, e.g.
#   sudo -u postgres deploy/postgres-setup.sh [--db kakehashi] [--role kakehashi]
#       [--auditor-role kakehashi_auditor] [--password-file FILE]
#
# Creates (idempotently):
#   - ROLE (LOGIN): owns DB and its tables; every gateway instance connects as it. The gateway
#     creates its tables itself on first start (`kakehashi run` migrates; safe with several).
#   - AUDITOR_ROLE (LOGIN, optional): SELECT only, for `kakehashi audit verify|export --dsn`
#     and an auditor's `relay list|show|report` (read-only by the database, not by convention).
#   - DB owned by ROLE, UTF8, with PUBLIC's default rights revoked.
# A password is set from --password-file (first line) when given; otherwise use peer or
# certificate authentication in pg_hba.conf. Then in each instance's config:
#   "store": {"type": "postgres", "dsn": "host=DBHOST dbname=DB user=ROLE sslmode=verify-full"}
# with the password in ~kakehashi/.pgpass (mode 0600) or PGPASSFILE, never in the config.
set -euo pipefail

DB=kakehashi
ROLE=kakehashi
AUDITOR=""
PASSWORD_FILE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --db) DB="$2"; shift 2 ;;
    --role) ROLE="$2"; shift 2 ;;
    --auditor-role) AUDITOR="$2"; shift 2 ;;
    --password-file) PASSWORD_FILE="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
for name in "$DB" "$ROLE" ${AUDITOR:+"$AUDITOR"}; do
  if ! [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]]; then
    echo "names must be lower-case SQL identifiers: $name" >&2
    exit 2
  fi
done

PSQL=(psql -v ON_ERROR_STOP=1 -X -q)

"${PSQL[@]}" -d postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN;
  END IF;
END
\$\$;
SQL
if [ -n "$AUDITOR" ]; then
  "${PSQL[@]}" -d postgres -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$AUDITOR') THEN CREATE ROLE $AUDITOR LOGIN; END IF; END \$\$;"
fi
if [ -n "$PASSWORD_FILE" ]; then
  password="$(head -n1 "$PASSWORD_FILE")"
  # Passed as a psql variable so that it never appears in a process listing.
  "${PSQL[@]}" -d postgres -v pw="$password" <<SQL
ALTER ROLE $ROLE PASSWORD :'pw';
SQL
fi
if [ -z "$("${PSQL[@]}" -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB OWNER $ROLE ENCODING 'UTF8' TEMPLATE template0"
fi
"${PSQL[@]}" -d "$DB" <<SQL
REVOKE ALL ON DATABASE $DB FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE $DB TO $ROLE;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO $ROLE;
SQL
if [ -n "$AUDITOR" ]; then
  "${PSQL[@]}" -d "$DB" <<SQL
GRANT CONNECT ON DATABASE $DB TO $AUDITOR;
GRANT USAGE ON SCHEMA public TO $AUDITOR;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO $AUDITOR;
ALTER DEFAULT PRIVILEGES FOR ROLE $ROLE IN SCHEMA public GRANT SELECT ON TABLES TO $AUDITOR;
SQL
fi
echo "PostgreSQL ready: database $DB owned by $ROLE${AUDITOR:+, read-only role $AUDITOR}"
echo "dsn: \"dbname=$DB user=$ROLE\" (add host=... sslmode=verify-full for a remote server)"
