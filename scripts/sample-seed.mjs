#!/usr/bin/env node
// The rows of the built-in sample data source (SAMPLE_DB): an online shop's customers, products,
// orders and order items from 2024-01-01 to 2025-12-31, with growth, a year-end peak, weekday
// rhythm and a mobile channel that gains share. Deterministic: a seeded PRNG and fixed dates, so
// every machine (npm run dev, the tests) gets the very same rows and numbers.
//
// The SQL first empties the four tables, then inserts everything: running it again restores
// the dataset exactly, whatever happened to it.
//
//   node scripts/sample-seed.mjs > seed.sql      (npm run dev writes .wrangler/sample-seed.sql)
import { pathToFileURL } from "node:url";

/** Bumped whenever the generated rows change; part of widget cache keys for the sample source. */
export const SAMPLE_SEED_VERSION = 1;

const START = Date.UTC(2024, 0, 1);
const END = Date.UTC(2025, 11, 31);
const DAY = 86_400_000;

/** mulberry32: a tiny, fast, seedable PRNG (uniform in [0, 1)). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COUNTRIES = [
  ["United States", 30, ["New York", "Chicago", "Austin", "Seattle", "Denver", "Boston"]],
  ["United Kingdom", 11, ["London", "Manchester", "Bristol", "Leeds"]],
  ["Germany", 10, ["Berlin", "Munich", "Hamburg", "Cologne"]],
  ["France", 8, ["Paris", "Lyon", "Marseille", "Toulouse"]],
  ["Canada", 7, ["Toronto", "Vancouver", "Montreal"]],
  ["Netherlands", 5, ["Amsterdam", "Rotterdam", "Utrecht"]],
  ["Spain", 5, ["Madrid", "Barcelona", "Valencia"]],
  ["Australia", 6, ["Sydney", "Melbourne", "Brisbane"]],
  ["Japan", 6, ["Tokyo", "Osaka", "Yokohama"]],
  ["Brazil", 5, ["São Paulo", "Rio de Janeiro", "Curitiba"]],
  ["India", 4, ["Bengaluru", "Mumbai", "Pune"]],
  ["Mexico", 3, ["Mexico City", "Guadalajara", "Monterrey"]],
];

const FIRST = ["Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sophia", "Lucas", "Mia", "Elias", "Amelia", "Hugo", "Isla", "Leo", "Chloé", "Arjun", "Yuki", "Sofia", "Jonas", "Zoe", "Omar", "Ines", "Kai", "Freya", "Diego", "Hana", "Ravi", "Clara", "Theo", "Lena", "Marta", "Ben", "Aisha", "Felix", "Nora", "Sam"];
const LAST = ["Smith", "Müller", "Garcia", "Martin", "Tanaka", "Silva", "Brown", "Dubois", "Rossi", "Jansen", "Kumar", "Lopez", "Wilson", "Schmidt", "Sato", "Costa", "Taylor", "Bernard", "Novak", "Fischer", "Khan", "Moreau", "Kowalski", "Anderson", "Nakamura", "Pereira", "Evans", "Weber", "Hernández", "Clarke"];

// category, [name, list price], unit cost as a share of price
const CATALOG = [
  ["Electronics", 0.62, [["Wireless Earbuds", 79], ["Noise-Cancelling Headphones", 249], ["Smart Watch", 199], ["Bluetooth Speaker", 59], ["USB-C Hub", 39], ["4K Webcam", 129], ["Portable SSD 1TB", 109], ["Mechanical Keyboard", 139], ["Wireless Mouse", 29], ["E-Reader", 119]]],
  ["Home & Kitchen", 0.48, [["Espresso Machine", 329], ["Cast Iron Skillet", 45], ["Chef's Knife", 89], ["Air Fryer", 119], ["French Press", 32], ["Linen Bed Sheets", 149], ["Scented Candle Set", 28], ["Ceramic Dinner Set", 96], ["Electric Kettle", 49], ["Blender", 79]]],
  ["Books", 0.40, [["The Data Warehouse Toolkit", 52], ["Storytelling with Data", 34], ["SQL Cookbook", 48], ["Designing Data-Intensive Applications", 55], ["The Visual Display of Quantitative Information", 40], ["Lean Analytics", 27], ["Naked Statistics", 18], ["How to Measure Anything", 31]]],
  ["Sports & Outdoors", 0.50, [["Yoga Mat", 35], ["Trail Running Shoes", 139], ["Camping Tent", 229], ["Insulated Water Bottle", 29], ["Adjustable Dumbbells", 299], ["Cycling Helmet", 75], ["Hiking Backpack", 119], ["Resistance Bands", 19]]],
  ["Clothing", 0.38, [["Merino T-Shirt", 59], ["Rain Jacket", 169], ["Denim Jeans", 89], ["Wool Sweater", 119], ["Running Shorts", 39], ["Canvas Sneakers", 69], ["Down Vest", 129], ["Beanie", 25]]],
  ["Toys & Games", 0.45, [["Strategy Board Game", 49], ["1000-Piece Puzzle", 22], ["Building Blocks Set", 79], ["Remote-Control Car", 65], ["Card Game", 15], ["Science Kit", 39]]],
];

const pick = (rand, items) => items[Math.floor(rand() * items.length)];
function weighted(rand, pairs) {
  const total = pairs.reduce((sum, [, w]) => sum + w, 0);
  let r = rand() * total;
  for (const [value, w] of pairs) {
    if ((r -= w) < 0) return value;
  }
  return pairs[pairs.length - 1][0];
}
const money = (n) => Math.round(n * 100) / 100;
const isoDate = (ms) => new Date(ms).toISOString().slice(0, 10);

/** The dataset as plain rows (also used by tests to know the expected numbers). */
export function generateSampleData() {
  const rand = prng(20240101);

  const products = [];
  for (const [category, costShare, items] of CATALOG) {
    for (const [name, price] of items) {
      const id = products.length + 1;
      const prefix = category.replace(/[^A-Z]/g, "").slice(0, 2).padEnd(2, "X");
      products.push({
        id,
        sku: `${prefix}-${String(1000 + id)}`,
        name,
        category,
        unit_price: money(price - 0.01),
        unit_cost: money(price * costShare * (0.9 + rand() * 0.2)),
      });
    }
  }
  // Popularity: cheap items sell more often; a few hits on top.
  const productWeights = products.map((p) => [p, (1 / Math.sqrt(p.unit_price)) * (rand() < 0.15 ? 3 : 1)]);

  // Customers sign up from mid-2023 on, faster as the shop grows; ids are in signup order.
  const customers = [];
  const signupStart = Date.UTC(2023, 5, 1);
  const customerCount = 900;
  const usedEmails = new Set();
  for (let i = 0; i < customerCount; i++) {
    const t = Math.pow((i + rand()) / customerCount, 0.8);
    const signup = signupStart + Math.floor(t * (END - signupStart) / DAY) * DAY;
    const [country, , cities] = weighted(rand, COUNTRIES.map((c) => [c, c[1]]));
    const first = pick(rand, FIRST);
    const last = pick(rand, LAST);
    const base = `${first}.${last}`.toLowerCase().normalize("NFD").replace(/[^a-z.]/g, "");
    let email = `${base}@example.com`;
    for (let n = 2; usedEmails.has(email); n++) email = `${base}${n}@example.com`;
    usedEmails.add(email);
    customers.push({
      id: i + 1,
      name: `${first} ${last}`,
      email,
      country,
      city: pick(rand, cities),
      segment: weighted(rand, [["consumer", 70], ["business", 24], ["enterprise", 6]]),
      signup_date: isoDate(signup),
    });
  }

  const orders = [];
  const items = [];
  const SEASON = [0.85, 0.8, 0.9, 0.95, 1.0, 0.95, 0.9, 0.95, 1.0, 1.05, 1.35, 1.6];
  const WEEKDAY = [0.8, 1.05, 1.0, 1.0, 1.05, 1.15, 0.95]; // Sunday first
  let signedUp = 0;
  for (let day = START; day <= END; day += DAY) {
    const date = new Date(day);
    const dateText = isoDate(day);
    while (signedUp < customers.length && customers[signedUp].signup_date <= dateText) signedUp++;
    if (signedUp === 0) continue;
    const progress = (day - START) / (END - START);
    const expected = 3.6 * (1 + 0.9 * progress) * SEASON[date.getUTCMonth()] * WEEKDAY[date.getUTCDay()];
    // A rounded normal-ish draw around the expected count.
    const count = Math.max(0, Math.round(expected + (rand() + rand() + rand() - 1.5) * 2));
    const daysLeft = (END - day) / DAY;
    for (let k = 0; k < count; k++) {
      const orderId = orders.length + 1;
      // Returning customers are more likely the longer they have been around.
      const customer = customers[Math.floor(Math.pow(rand(), 0.7) * signedUp)];
      const status =
        daysLeft < 3 ? "processing" : daysLeft < 10 ? weighted(rand, [["shipped", 80], ["completed", 20]]) : weighted(rand, [["completed", 92], ["refunded", 4.5], ["cancelled", 3.5]]);
      const channel = weighted(rand, [["web", 58 - 18 * progress], ["mobile", 24 + 20 * progress], ["store", 18 - 2 * progress]]);
      const lineCount = weighted(rand, [[1, 50], [2, 28], [3, 14], [4, 8]]);
      const chosen = new Set();
      let total = 0;
      for (let l = 0; l < lineCount; l++) {
        const product = weighted(rand, productWeights);
        if (chosen.has(product.id)) continue;
        chosen.add(product.id);
        const quantity = weighted(rand, [[1, 70], [2, 20], [3, 7], [5, 3]]);
        const discount = weighted(rand, [[0, 75], [0.05, 10], [0.1, 9], [0.2, 4], [0.25, 2]]);
        const lineTotal = money(quantity * product.unit_price * (1 - discount));
        total += lineTotal;
        items.push({
          id: items.length + 1,
          order_id: orderId,
          product_id: product.id,
          quantity,
          unit_price: product.unit_price,
          discount,
          line_total: lineTotal,
        });
      }
      orders.push({ id: orderId, customer_id: customer.id, order_date: dateText, status, channel, total: money(total) });
    }
  }
  return { customers, products, orders, order_items: items };
}

const TABLE_COLUMNS = {
  customers: ["id", "name", "email", "country", "city", "segment", "signup_date"],
  products: ["id", "sku", "name", "category", "unit_price", "unit_cost"],
  orders: ["id", "customer_id", "order_date", "status", "channel", "total"],
  order_items: ["id", "order_id", "product_id", "quantity", "unit_price", "discount", "line_total"],
};

const literal = (v) => (typeof v === "number" ? String(v) : `'${String(v).replace(/'/g, "''")}'`);

/**
 * The seed as SQL statements (no trailing semicolons): deletes, then multi-row INSERTs of at
 * most `rowsPerInsert` rows, each statement far below D1's 100 KB statement limit.
 */
export function buildSampleSeedStatements(rowsPerInsert = 250) {
  const data = generateSampleData();
  const statements = ["DELETE FROM order_items", "DELETE FROM orders", "DELETE FROM products", "DELETE FROM customers"];
  for (const [table, columns] of Object.entries(TABLE_COLUMNS)) {
    const rows = data[table];
    for (let i = 0; i < rows.length; i += rowsPerInsert) {
      const values = rows
        .slice(i, i + rowsPerInsert)
        .map((row) => `(${columns.map((c) => literal(row[c])).join(",")})`)
        .join(",\n");
      statements.push(`INSERT INTO ${table} (${columns.join(", ")}) VALUES\n${values}`);
    }
  }
  return statements;
}

export function buildSampleSeedSql() {
  return buildSampleSeedStatements().map((s) => `${s};`).join("\n") + "\n";
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(buildSampleSeedSql());
}
