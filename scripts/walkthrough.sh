#!/usr/bin/env bash
# Walks the spec's examples with curl against a running `npm run dev` (BASE to point elsewhere).
# Usage: bash scripts/walkthrough.sh
set -euo pipefail
B=${BASE:-http://localhost:8787}
JSON="content-type: application/json"
show() { printf '\n# %s\n' "$1"; }
pretty() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.stringify(JSON.parse(s)))}catch{console.log(s)}})'; }
field() { node -pe "JSON.parse(require('fs').readFileSync(0)).$1"; }

show "POST /api/auth/login"
LOGIN=$(curl -s -X POST "$B/api/auth/login" -H "$JSON" -d '{"email":"admin@demo.edgeboard.dev","password":"demo-admin-password"}')
echo "$LOGIN" | pretty
TOKEN=$(echo "$LOGIN" | field accessToken)
REFRESH=$(echo "$LOGIN" | field refreshToken)
AUTH="authorization: Bearer $TOKEN"

show "POST /api/auth/refresh-token"
curl -s -X POST "$B/api/auth/refresh-token" -H "$JSON" -d "{\"refreshToken\":\"$REFRESH\"}" | pretty

show "GET /api/users/me"
curl -s "$B/api/users/me" -H "$AUTH" | pretty

show "PATCH /api/users/me"
curl -s -X PATCH "$B/api/users/me" -H "$AUTH" -H "$JSON" -d '{"firstName":"John Updated","lastName":"Doe Updated"}' | pretty
curl -s -o /dev/null -X PATCH "$B/api/users/me" -H "$AUTH" -H "$JSON" -d '{"firstName":"Ada","lastName":"Admin"}'

show "POST /api/dashboards"
DASH=$(curl -s -X POST "$B/api/dashboards" -H "$AUTH" -H "$JSON" -d '{"name":"New Dashboard","description":"Dashboard description","isPublic":false,"layout":{}}')
echo "$DASH" | pretty
DASH_ID=$(echo "$DASH" | field id)

show "GET /api/dashboards?page=1&limit=20&sort=-createdAt&isPublic=false"
curl -s "$B/api/dashboards?page=1&limit=20&sort=-createdAt&isPublic=false" -H "$AUTH" | pretty

show "GET /api/data-sources"
SOURCES=$(curl -s "$B/api/data-sources" -H "$AUTH")
echo "$SOURCES" | pretty
SAMPLE_ID=$(echo "$SOURCES" | field 'data.find(s => s.type === "sample").id')

show "POST /api/dashboards/$DASH_ID/widgets"
curl -s -X POST "$B/api/dashboards/$DASH_ID/widgets" -H "$AUTH" -H "$JSON" -d "{\"type\":\"line_chart\",\"title\":\"Monthly Sales\",\"config\":{\"query\":\"SELECT strftime('%Y-%m', order_date) AS month, round(sum(total), 2) AS revenue FROM orders GROUP BY month ORDER BY month DESC LIMIT 3\"},\"dataSourceId\":\"$SAMPLE_ID\",\"x\":0,\"y\":0,\"width\":6,\"height\":4}" | pretty

show "GET /api/dashboards/$DASH_ID"
curl -s "$B/api/dashboards/$DASH_ID" -H "$AUTH" | pretty

show "POST /api/data-sources/test-connection"
curl -s -X POST "$B/api/data-sources/test-connection" -H "$AUTH" -H "$JSON" -d '{"type":"postgresql","connection":{"host":"localhost","port":5432,"database":"postgres","username":"postgres","password":"postgres"}}' | pretty

show "An error: POST /api/dashboards with a bad body"
curl -s -X POST "$B/api/dashboards" -H "$AUTH" -H "$JSON" -d '{"name":"","isPublic":"yes"}' | pretty

show "DELETE /api/dashboards/$DASH_ID"
curl -s -o /dev/null -w "%{http_code}\n" -X DELETE "$B/api/dashboards/$DASH_ID" -H "$AUTH"
