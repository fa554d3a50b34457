"""The benchmark's data: the same seeded 1,000,000-row, 20-column mixed-type CSV every time.

Real exports are never clean, so the file carries the problems the profile agents look for,
at realistic rates: blanks and 'N/A', a second date format, invalid emails (' at ' for '@',
and accented names such as josé.… that most mail systems refuse) and phones,
category variants, outliers, exact and near duplicate rows, a zip → city rule with a few
breaks. Everything comes from one seeded generator, so two runs profile the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

SEED = 20240604

FIRST = np.array(
    [
        "James",
        "Mary",
        "John",
        "Patricia",
        "Robert",
        "Jennifer",
        "Michael",
        "Linda",
        "William",
        "Elizabeth",
        "David",
        "Barbara",
        "Richard",
        "Susan",
        "Joseph",
        "Jessica",
        "Thomas",
        "Sarah",
        "Charles",
        "Karen",
        "Daniel",
        "Nancy",
        "Matthew",
        "Lisa",
        "Anthony",
        "Betty",
        "Mark",
        "Margaret",
        "Donald",
        "Sandra",
        "Steven",
        "Ashley",
        "Paul",
        "Kimberly",
        "Andrew",
        "Emily",
        "Joshua",
        "Donna",
        "Kenneth",
        "Michelle",
        "Kevin",
        "Dorothy",
        "Brian",
        "Carol",
        "George",
        "Amanda",
        "Edward",
        "Melissa",
        "Ronald",
        "Deborah",
        "Timothy",
        "Stephanie",
        "Jason",
        "Rebecca",
        "Jeffrey",
        "Sharon",
        "Ryan",
        "Laura",
        "Jacob",
        "Cynthia",
        "Gary",
        "Kathleen",
        "Nicholas",
        "Amy",
        "Eric",
        "Shirley",
        "Jonathan",
        "Angela",
        "Stephen",
        "Helen",
        "Larry",
        "Anna",
        "Justin",
        "Brenda",
        "Scott",
        "Pamela",
        "Brandon",
        "Nicole",
        "Benjamin",
        "Emma",
        "Samuel",
        "Samantha",
        "Frank",
        "Katherine",
        "Gregory",
        "Christine",
        "Raymond",
        "Debra",
        "Alexander",
        "Rachel",
        "Patrick",
        "Catherine",
        "Jack",
        "Carolyn",
        "Dennis",
        "Janet",
        "Jerry",
        "Ruth",
        "Tyler",
        "Maria",
        "Aaron",
        "Heather",
        "José",
        "Zoë",
        "Renée",
    ]
)
LAST = np.array(
    [
        "Smith",
        "Johnson",
        "Williams",
        "Brown",
        "Jones",
        "Garcia",
        "Miller",
        "Davis",
        "Rodriguez",
        "Martinez",
        "Hernandez",
        "Lopez",
        "Gonzalez",
        "Wilson",
        "Anderson",
        "Thomas",
        "Taylor",
        "Moore",
        "Jackson",
        "Martin",
        "Lee",
        "Perez",
        "Thompson",
        "White",
        "Harris",
        "Sanchez",
        "Clark",
        "Ramirez",
        "Lewis",
        "Robinson",
        "Walker",
        "Young",
        "Allen",
        "King",
        "Wright",
        "Scott",
        "Torres",
        "Nguyen",
        "Hill",
        "Flores",
        "Green",
        "Adams",
        "Nelson",
        "Baker",
        "Hall",
        "Rivera",
        "Campbell",
        "Mitchell",
        "Carter",
        "Roberts",
        "Gomez",
        "Phillips",
        "Evans",
        "Turner",
        "Diaz",
        "Parker",
        "Cruz",
        "Edwards",
        "Collins",
        "Reyes",
        "Stewart",
        "Morris",
        "Morales",
        "Murphy",
        "Cook",
        "Rogers",
        "Gutierrez",
        "Ortiz",
        "Morgan",
        "Cooper",
        "Peterson",
        "Bailey",
        "Reed",
        "Kelly",
        "Howard",
        "Ramos",
        "Kim",
        "Cox",
        "Ward",
        "Richardson",
        "Watson",
        "Brooks",
        "Chavez",
        "Wood",
        "James",
        "Bennett",
        "Gray",
        "Mendoza",
        "Ruiz",
        "Hughes",
        "Price",
        "Alvarez",
        "Castillo",
        "Sanders",
        "Patel",
        "Myers",
        "Long",
        "Ross",
        "Foster",
    ]
)
DOMAINS = np.array(["gmail.com", "yahoo.com", "outlook.com", "example.org", "corp.example.com", "mail.net"])
COUNTRIES = np.array(["US", "US", "US", "US", "CA", "GB", "DE", "FR", "MX", "AU"])
STATUS = np.array(["active", "inactive", "pending", "closed"])
PLANS = np.array(["basic", "pro", "enterprise"])
WORDS = np.array(
    [
        "call",
        "back",
        "later",
        "customer",
        "asked",
        "about",
        "refund",
        "delivery",
        "late",
        "damaged",
        "box",
        "wrong",
        "size",
        "happy",
        "with",
        "service",
        "wants",
        "invoice",
        "copy",
        "address",
        "changed",
    ]
)
N_CITIES = 300


def _area_codes() -> np.ndarray:
    """North American area codes that phonenumbers accepts, so only the planted phone numbers
    are invalid (a random 3-digit code is not a real area code a third of the time)."""
    import phonenumbers

    codes = [
        a for a in range(201, 990) if phonenumbers.is_valid_number(phonenumbers.parse(f"+1 {a}-555-0100"))
    ]
    return np.array([str(a) for a in codes])


def generate(path: Path, rows: int = 1_000_000, seed: int = SEED) -> Path:
    """Write the benchmark CSV to `path` (about 200 bytes a row) and return the path."""
    rng = np.random.default_rng(seed)
    n = rows
    ids = np.arange(100_000, 100_000 + n)
    first = rng.choice(FIRST, n)
    last = rng.choice(LAST, n)
    handle = np.char.lower(np.char.add(np.char.add(first, "."), last))
    email = np.char.add(np.char.add(np.char.add(handle, ids.astype(str)), "@"), rng.choice(DOMAINS, n))
    bad = rng.random(n) < 0.004
    email[bad] = np.char.replace(email[bad], "@", " at ")
    area = rng.choice(_area_codes(), n)
    line = rng.integers(0, 10_000, n)
    phone = np.char.add(np.char.add(np.char.add("+1 ", area), "-555-"), np.char.zfill(line.astype(str), 4))
    short = rng.random(n) < 0.003
    phone[short] = np.char.add("555-", np.char.zfill(line[short].astype(str), 4))
    day = np.datetime64("2018-01-01") + rng.integers(0, 2_400, n).astype("timedelta64[D]")
    signup = day.astype(str)
    other_format = rng.random(n) < 0.006
    parts = np.char.split(signup[other_format], "-")
    signup[other_format] = np.array([f"{p[2]}/{p[1]}/{p[0]}" for p in parts]) if other_format.any() else []
    seconds = rng.integers(0, 86_400 * 900, n).astype("timedelta64[s]")
    last_login = np.char.replace((np.datetime64("2022-01-01T00:00:00") + seconds).astype(str), "T", " ")
    country = rng.choice(COUNTRIES, n).astype(object)
    variant = rng.random(n)
    country[(country == "US") & (variant < 0.01)] = "usa"
    country[(country == "US") & (variant > 0.995)] = "U.S."
    city_ids = rng.integers(0, N_CITIES, n)
    city = np.char.add("City ", city_ids.astype(str)).astype(object)
    zips = np.char.zfill((city_ids * 317 + 1_021).astype(str), 5)
    broken = rng.random(n) < 0.002
    city[broken] = np.char.add("City ", rng.integers(0, N_CITIES, int(broken.sum())).astype(str))
    status = rng.choice(STATUS, n).astype(object)
    cased = rng.random(n)
    status[cased < 0.01] = np.char.upper(status[cased < 0.01].astype(str))
    status[cased > 0.995] = np.char.add(" ", status[cased > 0.995].astype(str))
    plan = rng.choice(PLANS, n, p=[0.6, 0.3, 0.1])
    amount = np.round(rng.lognormal(4, 0.6, n), 2)
    spikes = rng.random(n) < 0.0005
    amount[spikes] = np.round(amount[spikes] * 400, 2)
    quantity = rng.integers(1, 51, n)
    discount = np.round(rng.uniform(0, 30, n), 1)
    rating = rng.integers(1, 6, n).astype(str).astype(object)
    rating[rng.random(n) < 0.1] = ""
    active = np.where(status == "active", "true", "false").astype(object)
    website = np.char.add(np.char.add("https://www.", np.char.lower(last)), ".example.com/shop").astype(
        object
    )
    website[rng.random(n) < 0.7] = ""
    notes = np.full(n, "", dtype=object)
    noted = np.flatnonzero(rng.random(n) < 0.15)
    picks = rng.choice(WORDS, (len(noted), 5))
    notes[noted] = [" ".join(p) for p in picks]
    notes[rng.random(n) < 0.02] = "N/A"
    total = np.round(amount * quantity * (1 - discount / 100), 2)
    columns = {
        "customer_id": ids.astype(str),
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": phone,
        "signup_date": signup,
        "last_login": last_login,
        "country": country,
        "city": city,
        "zip": zips,
        "status": status,
        "plan": plan,
        "amount": amount.astype(str),
        "quantity": quantity.astype(str),
        "discount_pct": discount.astype(str),
        "total": total.astype(str),
        "rating": rating,
        "is_active": active,
        "website": website,
        "notes": notes,
    }
    table = pa.table({k: pa.array(np.asarray(v).astype(str)) for k, v in columns.items()})
    dupes = rng.choice(n, n // 200, replace=False)  # 0.5% of rows appear twice
    targets = rng.choice(n, n // 200, replace=False)
    indices = np.arange(n)
    indices[targets] = dupes
    table = table.take(pa.array(indices))
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    return path
