#!/usr/bin/env python3
"""Seed a freshly activated Tryton 8.2 database through raw JSON-RPC.

    seed.py --url http://127.0.0.1:PORT/ --database erp --password PW \
            --products N --customers M

Creates, in this order: currency EUR, a company (and makes it the admin's), a minimal
chart of accounts (receivable, payable, revenue, expense) and a fiscal year with periods,
product categories, N variants (product.product) spread over templates of 1 to 3
variants, a second warehouse, stock in both warehouses (confirmed inventories), a
company-wide price list with quantity breaks, two customer price lists, and M customers
(some with their own price list). Prints a JSON summary on stdout that the Rust tests
read (ids, expected discounts, which customer has which list).

Everything is deterministic from N and M, so a cached database is as good as a new one.
Deliberately not proteus: proteus makes on_change/default round trips per record and is
5 to 15 times slower than batched raw creates (see the reference notes).
"""

import argparse
import base64
import datetime
import gzip
import json
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal

BATCH = 50  # a single create of more than ~90 products overflows SQLite's parser stack


class RpcError(Exception):
    pass


class Client:
    def __init__(self, url, database):
        self.url = url.rstrip("/") + "/" + database + "/rpc/"
        self.auth = None
        self.ctx = {}
        self.next_id = 0

    def call(self, method, *params):
        self.next_id += 1
        body = json.dumps(
            {"id": self.next_id, "method": method, "params": list(params)},
            default=encode,
        ).encode()
        request = urllib.request.Request(self.url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept-Encoding", "gzip")
        if self.auth:
            request.add_header("Authorization", self.auth)
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            raise RpcError(f"{method}: HTTP {err.code}") from err
        # Tryton labels even plain bodies as gzip: trust the magic bytes, not the header.
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        answer = json.loads(raw, object_hook=decode)
        if "error" in answer and answer["error"]:
            raise RpcError(f"{method}: {answer['error']}")
        return answer["result"]

    def login(self, user, password):
        uid, token, _bus = self.call("common.db.login", user, {"password": password}, "en")
        creds = f"{user}:{uid}:{token}".encode()
        self.auth = "Session " + base64.b64encode(creds).decode()
        return uid

    def model(self, model, method, *params, ctx=None):
        context = dict(self.ctx)
        context.update(ctx or {})
        return self.call(f"model.{model}.{method}", *params, context)

    def search(self, model, domain, limit=None, order=None, ctx=None):
        return self.model(model, "search", domain, 0, limit, order, ctx=ctx)

    def search_read(self, model, domain, fields, limit=None, order=None, ctx=None):
        return self.model(model, "search_read", domain, 0, limit, order, fields, ctx=ctx)

    def create(self, model, values, ctx=None):
        ids = []
        for start in range(0, len(values), BATCH):
            ids += self.model(model, "create", values[start : start + BATCH], ctx=ctx)
        return ids

    def write(self, model, ids, values, ctx=None):
        return self.model(model, "write", ids, values, ctx=ctx)

    def one(self, model, domain):
        ids = self.search(model, domain, limit=1)
        if not ids:
            raise RpcError(f"no {model} matches {domain}")
        return ids[0]


def encode(value):
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime.datetime):
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, datetime.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    raise TypeError(f"cannot encode {value!r}")


def decode(obj):
    cls = obj.get("__class__")
    if cls == "Decimal":
        return Decimal(obj["decimal"])
    if cls == "date":
        return datetime.date(obj["year"], obj["month"], obj["day"])
    if cls == "datetime":
        return datetime.datetime(
            obj["year"], obj["month"], obj["day"], obj["hour"], obj["minute"], obj["second"],
            obj.get("microsecond", 0),
        )
    return obj


def log(message):
    print(f"[seed {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the seed data --------------------------------------------------------------------

# The company-wide price list: the first matching line wins, so the biggest break first.
DEFAULT_BREAKS = [("10", "0.8"), ("5", "0.9")]
ROOT_CATEGORIES = ["Tools", "Fasteners", "Electrical", "Plumbing"]
SUB_CATEGORIES = ["Basic", "Pro"]


def money(value):
    return Decimal(value).quantize(Decimal("0.01"))


def list_price(index):
    """A deterministic price between 1.00 and 200.99 with cents."""
    return money(Decimal(1 + (index * 37) % 200) + Decimal((index * 13) % 100) / 100)


def stock_of(index, warehouse):
    """Units of variant `index` in warehouse 0 or 1; some variants have none at all."""
    if warehouse == 0:
        return 0 if index % 5 == 4 else 10 + (index * 7) % 90
    return 0 if index % 2 else 3 + (index * 11) % 40


def bootstrap_company(rpc):
    currency = rpc.create(
        "currency.currency",
        [{"name": "Euro", "code": "EUR", "symbol": "€", "rounding": Decimal("0.01"), "digits": 2}],
    )[0]
    party = rpc.create("party.party", [{"name": "erpbridge Test Company"}])[0]
    company = rpc.create("company.company", [{"party": party, "currency": currency}])[0]
    rpc.write("res.user", [1], {"companies": [["add", [company]]], "company": company})
    return currency, company


def bootstrap_accounts(rpc, company):
    """The smallest chart the sale module needs to invoice: without a revenue account on
    the product and a receivable on the party, processing a confirmed sale fails."""
    ctx = {"company": company}

    def account_type(name, **flags):
        return rpc.create(
            "account.account.type",
            [{"name": name, "statement": flags.pop("statement"), "company": company, **flags}],
            ctx=ctx,
        )[0]

    t_receivable = account_type("Receivable", statement="balance", assets=True, receivable=True)
    t_payable = account_type("Payable", statement="balance", payable=True)
    t_revenue = account_type("Revenue", statement="income", revenue=True)
    t_expense = account_type("Expense", statement="income", expense=True)
    accounts = rpc.create(
        "account.account",
        [
            {"name": "Receivable", "code": "1100", "type": t_receivable, "reconcile": True,
             "party_required": True, "company": company},
            {"name": "Payable", "code": "1600", "type": t_payable, "reconcile": True,
             "party_required": True, "company": company},
            {"name": "Sales", "code": "4000", "type": t_revenue, "company": company},
            {"name": "Purchases", "code": "5000", "type": t_expense, "company": company},
        ],
        ctx=ctx,
    )
    receivable, payable, revenue, expense = accounts
    rpc.write(
        "account.configuration",
        [1],
        {"default_account_receivable": receivable, "default_account_payable": payable},
        ctx=ctx,
    )

    # A fiscal year for this year and the next, with monthly periods, so that invoices
    # created by the sale can be posted and dated.
    seq_type = rpc.one("ir.sequence.type", [["name", "=", "Account Move"]])
    for year in (datetime.date.today().year, datetime.date.today().year + 1):
        sequence = rpc.create(
            "ir.sequence.strict",
            [{"name": f"Moves {year}", "sequence_type": seq_type, "company": company}],
            ctx=ctx,
        )[0]
        inv_seq_type = rpc.one("ir.sequence.type", [["name", "=", "Invoice"]])
        inv_sequence = rpc.create(
            "ir.sequence.strict",
            [{"name": f"Invoices {year}", "sequence_type": inv_seq_type, "company": company}],
            ctx=ctx,
        )[0]
        fiscalyear = rpc.create(
            "account.fiscalyear",
            [{
                "name": str(year),
                "start_date": datetime.date(year, 1, 1),
                "end_date": datetime.date(year, 12, 31),
                "company": company,
                "move_sequence": sequence,
                "invoice_sequences": [["create", [{
                    "company": company,
                    "out_invoice_sequence": inv_sequence,
                    "in_invoice_sequence": inv_sequence,
                    "out_credit_note_sequence": inv_sequence,
                    "in_credit_note_sequence": inv_sequence,
                }]]],
            }],
            ctx=ctx,
        )[0]
        rpc.model("account.fiscalyear", "create_period", [fiscalyear], ctx=ctx)
    return {"receivable": receivable, "payable": payable, "revenue": revenue, "expense": expense}


def seed_categories(rpc, accounts):
    accounting = rpc.create(
        "product.category",
        [{"name": "Accounting: goods", "accounting": True,
          "account_revenue": accounts["revenue"], "account_expense": accounts["expense"]}],
    )[0]
    leaves = []
    for root_name in ROOT_CATEGORIES:
        root = rpc.create("product.category", [{"name": root_name}])[0]
        children = rpc.create(
            "product.category",
            [{"name": f"{root_name} {sub}", "parent": root} for sub in SUB_CATEGORIES],
        )
        leaves += children
    return accounting, leaves


def seed_products(rpc, count, accounting_category, leaf_categories):
    """`count` variants over templates of 1, 2 or 3 variants. Variant codes are the
    template code plus a suffix (Tryton composes `product.code` from both)."""
    unit = rpc.one("product.uom", [["name", "=", "Unit"]])
    templates = []
    made = 0
    t = 0
    while made < count:
        n_variants = min(1 + t % 3, count - made)
        variants = [
            {"suffix_code": f"-{chr(ord('A') + v)}" if n_variants > 1 else ""}
            for v in range(n_variants)
        ]
        templates.append({
            "name": f"Article {t:05d} {ROOT_CATEGORIES[t % len(ROOT_CATEGORIES)].lower()}",
            "code": f"T{t:05d}",
            "type": "goods",
            "default_uom": unit,
            "sale_uom": unit,
            "salable": True,
            "list_price": list_price(t),
            "account_category": accounting_category,
            "categories": [["add", [leaf_categories[t % len(leaf_categories)]]]],
            "products": [["create", variants]],
        })
        made += n_variants
        t += 1
    started = time.monotonic()
    # The unique-code check builds one nested OR per *variant*: batch by variants.
    template_ids = []
    batch, variants_in_batch = [], 0
    for template in templates + [None]:
        if template is None or variants_in_batch + len(template["products"][0][1]) > BATCH:
            if batch:
                template_ids += rpc.model("product.template", "create", batch)
            batch, variants_in_batch = [], 0
        if template is not None:
            batch.append(template)
            variants_in_batch += len(template["products"][0][1])
    log(f"{len(template_ids)} templates / {count} variants in {time.monotonic() - started:.1f} s")
    products = rpc.search_read(
        "product.product", [], ["id", "code", "template"], order=[["id", "ASC"]]
    )
    return template_ids, products


def seed_warehouses(rpc):
    wh1 = rpc.one("stock.location", [["type", "=", "warehouse"]])
    storage1 = rpc.search_read("stock.location", [["id", "=", wh1]], ["storage_location"])[0][
        "storage_location"
    ]
    inp, out, sto = rpc.create(
        "stock.location",
        [
            {"name": "WH2 Input", "type": "storage"},
            {"name": "WH2 Output", "type": "storage"},
            {"name": "WH2 Storage", "type": "storage"},
        ],
    )
    wh2 = rpc.create(
        "stock.location",
        [{"name": "Second Warehouse", "code": "WH2", "type": "warehouse",
          "input_location": inp, "output_location": out, "storage_location": sto,
          "lost_found_location": rpc.one("stock.location", [["type", "=", "lost_found"]])}],
    )[0]
    rpc.write("stock.location", [inp, out, sto], {"parent": wh2})
    return [(wh1, storage1), (wh2, sto)]


def seed_stock(rpc, company, products, warehouses):
    started = time.monotonic()
    for w, (_wh, storage) in enumerate(warehouses):
        lines = [
            {"product": p["id"], "quantity": float(stock_of(i, w))}
            for i, p in enumerate(products)
            if stock_of(i, w) > 0
        ]
        inventory = rpc.create(
            "stock.inventory",
            [{"location": storage, "company": company, "date": datetime.date.today()}],
        )[0]
        for start in range(0, len(lines), 500):
            rpc.write(
                "stock.inventory",
                [inventory],
                {"lines": [["create", lines[start : start + 500]]]},
            )
        rpc.model("stock.inventory", "confirm", [inventory])
    log(f"stock in {len(warehouses)} warehouses in {time.monotonic() - started:.1f} s")


def seed_price_lists(rpc, company, leaf_categories):
    def line(formula, quantity=None, category=None, sequence=10):
        values = {"formula": formula, "sequence": sequence}
        if quantity is not None:
            values["quantity"] = float(quantity)
        if category is not None:
            values["category"] = category
        return values

    default_lines = [
        line(f"unit_price * Decimal('{factor}')", quantity=q, sequence=10 * (i + 1))
        for i, (q, factor) in enumerate(DEFAULT_BREAKS)
    ] + [line("unit_price", sequence=100)]
    lists = rpc.create(
        "product.price_list",
        [
            {"name": "Default (quantity breaks)", "company": company, "price": "list_price",
             "lines": [["create", default_lines]]},
            # Gold: 25% off one category, 15% off the rest, 30% from 20 units.
            {"name": "Gold customers", "company": company, "price": "list_price",
             "lines": [["create", [
                 line("unit_price * Decimal('0.7')", quantity=20, sequence=10),
                 line("unit_price * Decimal('0.75')", category=leaf_categories[0], sequence=20),
                 line("unit_price * Decimal('0.85')", sequence=30),
             ]]]},
            # Silver: a flat 5% off, no breaks.
            {"name": "Silver customers", "company": company, "price": "list_price",
             "lines": [["create", [line("unit_price * Decimal('0.95')", sequence=10)]]]},
        ],
    )
    default, gold, silver = lists
    rpc.write("sale.configuration", [1], {"sale_price_list": default})
    return {"default": default, "gold": gold, "silver": silver}


def seed_customers(rpc, count, price_lists):
    """Every third customer is Gold, every third+1 Silver, the rest use the company default."""
    parties = []
    for i in range(count):
        tier = ("gold", "silver", None)[i % 3]
        values = {
            "name": f"Customer {i:04d}",
            "code": f"C{i:04d}",
            "contact_mechanisms": [["create", [
                {"type": "email", "value": f"customer{i:04d}@example.com"}]]],
            "addresses": [["create", [
                {"street": f"{i} Main Street", "postal_code": f"{10000 + i}", "city": "Testville"}]]],
        }
        if tier:
            values["sale_price_list"] = price_lists[tier]
        parties.append(values)
    started = time.monotonic()
    ids = rpc.create("party.party", parties)
    log(f"{count} customers in {time.monotonic() - started:.1f} s")
    return [
        {"id": pid, "code": f"C{i:04d}", "price_list": ("gold", "silver", None)[i % 3]}
        for i, pid in enumerate(ids)
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--database", default="erp")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--customers", type=int, default=20)
    args = parser.parse_args()
    if args.products < 1 or args.customers < 1:
        parser.error("--products and --customers must be at least 1")

    started = time.monotonic()
    rpc = Client(args.url, args.database)
    rpc.login(args.user, args.password)
    rpc.ctx = {"language": "en"}
    if rpc.search("company.company", []):
        raise SystemExit("this database already has a company: seed only a fresh one")

    currency, company = bootstrap_company(rpc)
    rpc.ctx = {"company": company, "companies": [company], "language": "en"}
    accounts = bootstrap_accounts(rpc, company)
    accounting_category, leaves = seed_categories(rpc, accounts)
    template_ids, products = seed_products(rpc, args.products, accounting_category, leaves)
    warehouses = seed_warehouses(rpc)
    seed_stock(rpc, company, products, warehouses)
    price_lists = seed_price_lists(rpc, company, leaves)
    customers = seed_customers(rpc, args.customers, price_lists)

    summary = {
        "company": company,
        "currency": currency,
        "currency_code": "EUR",
        "products": len(products),
        "templates": len(template_ids),
        "product_ids": [p["id"] for p in products],
        "template_ids": template_ids,
        "categories": leaves,
        "warehouses": [{"id": wh, "storage": sto} for wh, sto in warehouses],
        "price_lists": price_lists,
        "default_breaks": [{"min_quantity": q, "factor": f} for q, f in DEFAULT_BREAKS],
        "customers": customers,
        "seconds": round(time.monotonic() - started, 2),
    }
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    log(f"seeded {len(products)} products, {len(customers)} customers in {summary['seconds']} s")


if __name__ == "__main__":
    main()
