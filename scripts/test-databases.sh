#!/usr/bin/env bash
# Makes sure the real database servers the data-source tests connect to are up and provisioned.
# Idempotent and fast when everything already exists; `npm test` runs it first (as root, on Debian)
# before the tests. Only touches what it owns:
#   - the default PostgreSQL cluster (127.0.0.1:5432, trust auth; the demo data source) and
#     MariaDB (127.0.0.1:3306) are only started if they are down;
#   - a second PostgreSQL cluster `edgeboard_test` on 127.0.0.1:5433 that really checks
#     passwords (scram-sha-256), so wrong-password tests mean something;
#   - in MariaDB, the `edgeboard` users and the `edgeboard_test` database.
set -euo pipefail

PG_PORT_TEST=5433
TEST_USER=edgeboard
TEST_PASSWORD=edgeboard-test-pw
TEST_DB=edgeboard_test
# A role the test cluster refuses over unencrypted connections (exercises `ssl_required`).
TLS_ONLY_USER=edgeboard_tls_only
PG_CLUSTER=edgeboard_test

log() { echo "test-databases: $*"; }

wait_for() { # wait_for <what> <command...>: retries for up to 30 s
  local what=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$what did not come up"; return 1
}

PG_VERSION=$(ls /etc/postgresql | sort -V | tail -n 1)
PSQL_TEST=(psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$PG_PORT_TEST" -U postgres)

# ---- Default PostgreSQL cluster (demo data source: 127.0.0.1:5432, postgres/postgres)
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL $PG_VERSION/main"
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start || true
  wait_for "PostgreSQL on 5432" pg_isready -q -h 127.0.0.1 -p 5432
fi

# ---- MariaDB (127.0.0.1:3306, root with an empty password)
mysql_root() { mysql --protocol=tcp -h 127.0.0.1 -P 3306 -uroot "$@"; }
if ! mysql_root -e "select 1" >/dev/null 2>&1; then
  log "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for "MariaDB on 3306" mysql_root -e "select 1"
fi

# ---- Second PostgreSQL cluster on 5433 with password authentication
PG_CONF_DIR=/etc/postgresql/$PG_VERSION/$PG_CLUSTER
if [ ! -d "$PG_CONF_DIR" ]; then
  log "creating PostgreSQL cluster $PG_VERSION/$PG_CLUSTER on port $PG_PORT_TEST"
  # ssl off on purpose: tests assert what `ssl: require` does against a server without SSL.
  pg_createcluster "$PG_VERSION" "$PG_CLUSTER" -p "$PG_PORT_TEST" \
    -o ssl=off -o shared_buffers=16MB -o max_connections=40 \
    -- --auth-host=scram-sha-256 --auth-local=trust >/dev/null
fi
# The cluster's access rules belong to this script: rewrite them when they differ.
HBA_WANTED="# Written by scripts/test-databases.sh.
local   all  all                      trust
hostnossl all $TLS_ONLY_USER 127.0.0.1/32 reject
hostnossl all $TLS_ONLY_USER ::1/128      reject
host    all  all  127.0.0.1/32        scram-sha-256
host    all  all  ::1/128             scram-sha-256"
HBA_CHANGED=0
if [ "$(cat "$PG_CONF_DIR/pg_hba.conf")" != "$HBA_WANTED" ]; then
  printf '%s\n' "$HBA_WANTED" > "$PG_CONF_DIR/pg_hba.conf"
  chown postgres:postgres "$PG_CONF_DIR/pg_hba.conf"
  HBA_CHANGED=1
fi
if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT_TEST"; then
  log "starting PostgreSQL $PG_VERSION/$PG_CLUSTER"
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" start
  wait_for "PostgreSQL on $PG_PORT_TEST" pg_isready -q -h 127.0.0.1 -p "$PG_PORT_TEST"
elif [ "$HBA_CHANGED" = 1 ]; then
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" reload
fi

# Demo rows for widget-data tests: 3 regions x 3 products x 10 days, values derived from the
# row's position, so both servers hold the same data and results are predictable.
PG_PROVISIONED=$(PGPASSWORD=$TEST_PASSWORD psql -X -At -h 127.0.0.1 -p "$PG_PORT_TEST" -U "$TEST_USER" -d "$TEST_DB" \
  -c "select count(*) from sales" 2>/dev/null || true)
if [ "$PG_PROVISIONED" != "90" ]; then
  log "provisioning $TEST_DB on PostgreSQL $PG_PORT_TEST"
  "${PSQL_TEST[@]}" -d postgres <<SQL
do \$\$ begin
  if not exists (select from pg_roles where rolname = '$TEST_USER') then create role $TEST_USER login; end if;
  if not exists (select from pg_roles where rolname = '$TLS_ONLY_USER') then create role $TLS_ONLY_USER login; end if;
end \$\$;
alter role $TEST_USER password '$TEST_PASSWORD';
alter role $TLS_ONLY_USER password '$TEST_PASSWORD';
select 'create database $TEST_DB owner $TEST_USER' where not exists (select from pg_database where datname = '$TEST_DB')
\gexec
SQL
  PGPASSWORD=$TEST_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT_TEST" -U "$TEST_USER" -d "$TEST_DB" <<'SQL'
create table if not exists sales (
  id integer primary key,
  sold_on date not null,
  region text not null,
  product text not null,
  units integer not null,
  revenue numeric(10, 2) not null
);
delete from sales;
insert into sales (id, sold_on, region, product, units, revenue)
select n + 1,
       date '2024-01-01' + (n / 9),
       (array['north', 'south', 'west'])[(n % 3) + 1],
       (array['widget', 'gadget', 'gizmo'])[((n / 3) % 3) + 1],
       (n * 7) % 23 + 1,
       ((n * 7) % 23 + 1) * (array[12.50, 20.00, 7.25])[((n / 3) % 3) + 1]
from generate_series(0, 89) as n;
SQL
fi

# ---- MariaDB test user and database
MY_PROVISIONED=$(mysql --protocol=tcp -h 127.0.0.1 -P 3306 -u"$TEST_USER" -p"$TEST_PASSWORD" -N -B \
  -e "select count(*) from $TEST_DB.sales" 2>/dev/null || true)
if [ "$MY_PROVISIONED" != "90" ]; then
  log "provisioning $TEST_DB on MariaDB 3306"
  mysql_root <<SQL
create database if not exists $TEST_DB;
create user if not exists '$TEST_USER'@'%' identified by '$TEST_PASSWORD';
create user if not exists '$TEST_USER'@'localhost' identified by '$TEST_PASSWORD';
create user if not exists '$TEST_USER'@'127.0.0.1' identified by '$TEST_PASSWORD';
alter user '$TEST_USER'@'%' identified by '$TEST_PASSWORD';
alter user '$TEST_USER'@'localhost' identified by '$TEST_PASSWORD';
alter user '$TEST_USER'@'127.0.0.1' identified by '$TEST_PASSWORD';
grant all privileges on $TEST_DB.* to '$TEST_USER'@'%';
grant all privileges on $TEST_DB.* to '$TEST_USER'@'localhost';
grant all privileges on $TEST_DB.* to '$TEST_USER'@'127.0.0.1';
use $TEST_DB;
create table if not exists sales (
  id integer primary key,
  sold_on date not null,
  region varchar(16) not null,
  product varchar(16) not null,
  units integer not null,
  revenue decimal(10, 2) not null
);
delete from sales;
insert into sales (id, sold_on, region, product, units, revenue)
with recursive seq (n) as (select 0 union all select n + 1 from seq where n < 89)
select n + 1,
       date_add('2024-01-01', interval floor(n / 9) day),
       elt((n % 3) + 1, 'north', 'south', 'west'),
       elt((floor(n / 3) % 3) + 1, 'widget', 'gadget', 'gizmo'),
       (n * 7) % 23 + 1,
       ((n * 7) % 23 + 1) * elt((floor(n / 3) % 3) + 1, 12.50, 20.00, 7.25)
from seq;
SQL
fi

log "ready (PostgreSQL 5432 and $PG_PORT_TEST, MariaDB 3306)"
