"""Generate the demo sample files with their planted problems, byte-identically on every run.

    python samples/make_samples.py            # rewrites samples/*.csv
    python samples/make_samples.py --out DIR  # writes them somewhere else (the tests compare)

Everything comes from fixed lists and one seeded `random.Random` per file (no clock, no
locale), so the output depends only on this file. `samples/README.md` lists what is planted.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent

_FIRST_NAMES = """
James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard
Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony Sandra Mark
Ashley Oliver Amelia Harry Isla Lukas Hannah Felix Emma Hugo Chloe Louis Camille Noah Mia
"""
FIRST = _FIRST_NAMES.split()
_LAST_NAMES = """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson Anderson Taylor
Thomas Moore Jackson Martin Lee Thompson White Harris Clark Lewis Walker Hall Allen Young King
Wright Scott Green Baker Adams Nelson Hill Campbell Evans Müller Schmidt Schneider Fischer Weber
Dubois Lefèvre Moreau Laurent O'Brien Murphy
"""
LAST = _LAST_NAMES.split()
DOMAINS = {
    "US": ("gmail.com", "outlook.com", "yahoo.com", "example.com"),
    "GB": ("gmail.com", "btinternet.co.uk", "outlook.com"),
    "DE": ("web.de", "gmx.de", "gmail.com"),
    "FR": ("orange.fr", "gmail.com", "free.fr"),
}

# country -> (the ways it is written, with weights; its cities)
COUNTRIES: dict[str, tuple[tuple[tuple[str, int], ...], tuple[str, ...]]] = {
    "US": (
        (("United States", 10), ("USA", 6), ("US", 4), ("U.S.", 2), ("united states", 2), ("America", 1)),
        ("New York", "San Francisco", "Chicago", "Boston", "Seattle", "Austin"),
    ),
    "GB": (
        (("United Kingdom", 8), ("UK", 6), ("Great Britain", 2), ("England", 2), ("U.K.", 1)),
        ("London", "Manchester", "Bristol", "Leeds"),
    ),
    "DE": (
        (("Germany", 8), ("Deutschland", 3), ("DE", 3), ("germany", 1)),
        ("Berlin", "Hamburg", "München", "Köln"),
    ),
    "FR": (
        (("France", 8), ("FR", 3), ("france ", 1), ("République française", 1)),
        ("Paris", "Lyon", "Marseille", "Toulouse"),
    ),
}
# month names fixed here: strftime("%b") would follow the locale
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SEGMENTS = (("Consumer", 12), ("Small business", 5), ("Enterprise", 2), ("consumer", 1))
MISSING = ("N/A", "-", "n/a", "unknown", "", "NULL", "?")


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, int]]) -> str:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


AREA_CODES = {
    "New York": 212,
    "San Francisco": 415,
    "Chicago": 312,
    "Boston": 617,
    "Seattle": 206,
    "Austin": 512,
}


def _phone(rng: random.Random, country: str, city: str) -> str:
    """One real-looking number in one of the formats people type for that country."""
    a = AREA_CODES.get(city, 646)
    b, c = rng.randint(200, 899), rng.randint(0, 9999)
    formats = {
        "US": (
            f"+1 {a}-555-{c:04d}",
            f"({a}) 555-{c:04d}",
            f"{a}.555.{c:04d}",
            f"{a}555{c:04d}",
            f"1-{a}-555-{c:04d}",
        ),
        "GB": (f"+44 20 7946 {c:04d}", f"020 7946 {c:04d}", f"0044 20 7946 {c:04d}", f"+4420 7946{c:04d}"),
        "DE": (f"+49 30 {b}{c:04d}", f"030 {b} {c:04d}", f"0049-30-{b}{c:04d}", f"(030) {b}{c:04d}"),
        "FR": (
            f"+33 1 {b // 10:02d} {c // 100:02d} {c % 100:02d} 00",
            f"01 {b // 10:02d} {c // 100:02d} {c % 100:02d} 00",
        ),
    }
    if rng.random() < 0.02:
        return rng.choice(
            ("12345", "555-CALL-NOW", "000 000 0000", "+1 (000) 000-0000")
        )  # not numbers at all
    return rng.choice(formats[country])


def _email(rng: random.Random, first: str, last: str, country: str) -> str:
    local = rng.choice(
        (f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}", f"{last}.{first}")
    )
    local = local.lower().replace("'", "").replace("ü", "ue").replace("è", "e")
    return f"{local}@{rng.choice(DOMAINS[country])}"


def _broken_email(rng: random.Random, good: str) -> str:
    local, domain = good.split("@")
    return rng.choice(
        (
            f"{local}.{domain}",  # no @
            f"{local}@@{domain}",
            f"{local}@{domain.split('.')[0]}",  # no top-level domain
            f"{local} @{domain}",  # space inside
            f"{local}@{domain},",
            f"mailto:{good}",
        )
    )


def _date_text(rng: random.Random, day: date, messy: bool) -> str:
    if not messy:
        return day.isoformat()
    return rng.choice(
        (
            day.strftime("%d/%m/%Y"),
            day.strftime("%m/%d/%Y"),
            f"{day.day} {MONTHS[day.month - 1]} {day.year}",
            day.strftime("%Y.%m.%d"),
            day.strftime("%Y%m%d"),
        )
    )


def customers() -> tuple[list[str], list[list[str]]]:
    rng = random.Random(1401)
    header = [
        "customer_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "country",
        "city",
        "signup_date",
        "age",
        "segment",
    ]
    rows: list[list[str]] = []
    start = date(2021, 1, 1)
    for n in range(1, 421):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        country = rng.choices(list(COUNTRIES), weights=[5, 3, 2, 2])[0]
        spellings, cities = COUNTRIES[country]
        email = _email(rng, first, last, country)
        if rng.random() < 0.035:
            email = _broken_email(rng, email)
        city = rng.choice(cities)
        phone = _phone(rng, country, city) if rng.random() > 0.06 else rng.choice(MISSING)
        if rng.random() < 0.05:
            city = rng.choice(MISSING)
        signup = start + timedelta(days=rng.randint(0, 1200))
        age = str(max(18, min(85, int(rng.gauss(41, 13)))))
        if rng.random() < 0.03:
            age = rng.choice(MISSING)
        if rng.random() < 0.04:
            first = f" {first}" if rng.random() < 0.5 else f"{first}  "  # stray spaces
        rows.append(
            [
                f"C{n:05d}",
                first,
                last,
                email,
                phone,
                _weighted(rng, spellings),
                city,
                _date_text(rng, signup, rng.random() < 0.12),
                age,
                _weighted(rng, SEGMENTS) if rng.random() > 0.04 else rng.choice(MISSING),
            ]
        )
    for index, age in zip(
        rng.sample(range(len(rows)), 6), ("0", "2", "-4", "150", "212", "999"), strict=True
    ):
        rows[index][8] = age  # impossible ages
    # exact duplicates: the same record exported twice
    for index in rng.sample(range(len(rows)), 6):
        rows.insert(rng.randint(0, len(rows)), list(rows[index]))
    # near duplicates: the same person entered again under a new id
    next_id = 421
    for index in rng.sample(range(len(rows)), 6):
        copy = list(rows[index])
        copy[0] = f"C{next_id:05d}"
        next_id += 1
        copy[1] = copy[1].strip().upper() if rng.random() < 0.5 else copy[1].strip().lower()
        copy[3] = copy[3].upper() if rng.random() < 0.5 else copy[3]
        copy[4] = copy[4].replace(" ", "").replace("-", "")
        rows.append(copy)
    return header, rows


ZIPS = {
    "10001": "New York",
    "94105": "San Francisco",
    "60601": "Chicago",
    "02108": "Boston",
    "98101": "Seattle",
    "73301": "Austin",
    "30303": "Atlanta",
    "80202": "Denver",
}
PRODUCTS = (
    ("Wireless mouse", 24.99),
    ("USB-C hub", 49.00),
    ("Standing desk", 1249.00),
    ("Office chair", 389.50),
    ('Monitor 27"', 299.99),
    ("Laptop stand", 39.95),
    ("Mechanical keyboard", 129.00),
    ("Webcam HD", 74.90),
    ("Desk lamp", 32.00),
    ("Noise-cancelling headset", 219.00),
)
STATUSES = (
    ("Delivered", 20),
    ("Shipped", 10),
    ("Pending", 5),
    ("Cancelled", 3),
    ("Returned", 2),
    ("delivered", 3),
    ("SHIPPED", 2),
    ("shipped ", 1),
    ("Canceled", 1),
    ("pending", 1),
)


def _money(rng: random.Random, value: float) -> str:
    """Amounts as different systems export them: plain, with a symbol, with separators."""
    plain = f"{value:.2f}"
    grouped = f"{value:,.2f}"
    european = grouped.replace(",", " ").replace(".", ",").replace(" ", ".")
    styles = (plain, f"${grouped}", grouped, f"USD {plain}", f"{plain} $", european)
    return rng.choices(styles, weights=[14, 6, 3, 2, 1, 1])[0]


def orders() -> tuple[list[str], list[list[str]]]:
    rng = random.Random(2402)
    header = [
        "order_id",
        "customer_id",
        "order_date",
        "product",
        "quantity",
        "unit_price",
        "amount",
        "status",
        "zip",
        "city",
    ]
    rows: list[list[str]] = []
    start = date(2023, 1, 1)
    zips = list(ZIPS)
    for n in range(1, 961):
        product, price = rng.choice(PRODUCTS)
        quantity = rng.choices((1, 2, 3, 4, 5, 10, 25), weights=[40, 20, 10, 5, 4, 2, 1])[0]
        amount = round(quantity * price, 2)
        zip_code = rng.choice(zips)
        city = ZIPS[zip_code]
        day = start + timedelta(days=rng.randint(0, 540))
        order_date = day.isoformat()
        customer = f"C{rng.randint(1, 420):05d}"
        rows.append(
            [
                f"SO-{100000 + n}",
                customer,
                order_date,
                product,
                str(quantity),
                f"{price:.2f}",
                _money(rng, amount),
                _weighted(rng, STATUSES),
                zip_code,
                city,
            ]
        )
    picks = rng.sample(range(len(rows)), 40)
    for index in picks[:3]:  # negative quantities (returns booked as orders)
        rows[index][4] = f"-{rows[index][4]}"
    rows[picks[3]][4] = "0"
    for index in picks[4:12]:  # the zip says one city, the city column another
        zip_code = rows[index][8]
        rows[index][9] = rng.choice([c for z, c in ZIPS.items() if z != zip_code])
    for index in picks[12:16]:  # Boston's leading zero lost by a spreadsheet
        rows[index][8], rows[index][9] = "2108", "Boston"
    for index in picks[16:20]:  # amount is not quantity x unit price
        rows[index][6] = f"{float(rows[index][5]) * 7:.2f}"
    for index, text in zip(picks[20:23], ("2024-02-30", "2031-07-04", "2023-13-01"), strict=True):
        rows[index][2] = text  # impossible or future dates
    for index in picks[23:27]:  # orders of customers who are not in customers.csv
        rows[index][1] = f"C{rng.randint(900, 999):05d}"
    for index in picks[27:30]:  # missing amounts
        rows[index][6] = rng.choice(("", "N/A", "-"))
    for index in picks[30:33]:  # one order id used twice
        duplicate = list(rows[index])
        duplicate[0] = rows[picks[33]][0]
        rows.append(duplicate)
    rows[picks[34]][6] = _money(rng, 184_900.00)  # a fat-finger amount
    return header, rows


# item -> (category, base price in EUR); the category is then written several ways
ITEMS = {
    "Chef's knife": ("Kitchen", 49.0),
    "Käsereibe": ("Kitchen", 12.5),
    "Crème brûlée torch": ("Kitchen", 24.9),
    "Garlic press": ("Kitchen", 9.99),
    "Cast-iron pan": ("Kitchen", 39.95),
    "Salad spinner": ("Kitchen", 17.5),
    "Garden hose 20 m": ("Garden", 29.0),
    "Pruning shears": ("Garden", 19.9),
    "Hand trowel": ("Garden", 7.99),
    "Watering can": ("Garden", 11.5),
    "Cordless drill": ("Tools", 89.0),
    "Screwdriver set": ("Tools", 24.0),
    "Spirit level": ("Tools", 14.5),
    "Hammer": ("Tools", 12.0),
    "Towel rail": ("Bathroom", 34.9),
    "Shower head": ("Bathroom", 27.5),
    "Bath mat": ("Bathroom", 15.0),
    "Soap dispenser": ("Bathroom", 8.5),
}
SPELLINGS = {
    "Kitchen": (("Kitchen", 10), ("kitchen", 2), ("Kitchenware", 2)),
    "Garden": (("Garden", 10), ("garden ", 1), ("Outdoor & Garden", 1)),
    "Tools": (("Tools", 10), ("TOOLS", 1), ("Tool", 1)),
    "Bathroom": (("Bathroom", 10), ("Bath", 2)),
}
VARIANTS = (("", 1.0), ("Pro", 1.6), ("Classic", 1.0), ("XL", 1.3), ("Mini", 0.7))
SUPPLIERS = ("Nordwerk GmbH", "Atelier Lyon SARL", "Brightline Ltd", "Casa Útil S.L.")


def products() -> tuple[list[str], list[list[str]]]:
    rng = random.Random(3603)
    header = [
        "sku",
        "product_name",
        "category",
        "price_eur",
        "weight",
        "stock",
        "supplier",
        "warehouse",
        "discontinued_reason",
        "last_updated",
    ]
    rows: list[list[str]] = []
    for n in range(1, 181):
        item = rng.choice(list(ITEMS))
        category, base = ITEMS[item]
        variant, factor = rng.choice(VARIANTS)
        name = f"{item} {variant}".strip()
        if rng.random() < 0.05:
            name = f"  {name}"  # leading spaces
        grams = rng.choice((120, 250, 500, 750, 1200, 2300, 4800))
        weight = rng.choice(
            (
                f"{grams} g",
                f"{grams / 1000:.2f}".replace(".", ",") + " kg",
                f"{grams / 1000:g} kg",
                f"{grams}g",
            )
        )
        sku = f"SKU-{n:05d}"
        if rng.random() < 0.06:
            sku = rng.choice((f"sku{n}", f"SKU_{n:05d}", f"SKU-{n:04d}"))
        price_text = f"{base * factor:.2f}".replace(".", ",")  # decimal comma, as exported in Europe
        stock = str(rng.randint(0, 400)) if rng.random() > 0.03 else str(-rng.randint(1, 12))
        reason = (
            "" if rng.random() > 0.04 else rng.choice(("Supplier stopped", "Recall 2023", "Replaced by Pro"))
        )
        updated = date(2024, 1, 1) + timedelta(days=rng.randint(0, 200))
        rows.append(
            [
                sku,
                name,
                _weighted(rng, SPELLINGS[category]),
                price_text,
                weight,
                stock,
                rng.choice(SUPPLIERS),
                "Main",
                reason,
                updated.strftime("%d.%m.%Y"),
            ]
        )
    rows[17][3] = "1.299,00"  # thousands separator in a decimal-comma column
    rows[42][3] = "0,00"
    rows.append(list(rows[10]))  # the same SKU twice
    rows[-1][5] = "12"
    return header, rows


def _csv_bytes(
    header: Sequence[str], rows: Iterable[Sequence[str]], delimiter: str = ",", bom: bool = False
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


FILES: dict[str, Callable[[], bytes]] = {
    "customers.csv": lambda: _csv_bytes(*customers()),
    "orders.csv": lambda: _csv_bytes(*orders()),
    "products.csv": lambda: _csv_bytes(*products(), delimiter=";", bom=True),
}


def write_samples(out: Path = HERE) -> list[Path]:
    """Write every sample into `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in FILES.items():
        path = out / name
        path.write_bytes(build())
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write to (default: samples/)")
    args = parser.parse_args(argv)
    for path in write_samples(args.out):
        print(f"{path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
