"""Raw sheet frames -> a validated `Book` plus one `InputError` per bad input.

Three stages, each a table of small functions (STYLE.md #4):

1. `CELL_PARSERS`: one parser per column kind turns a raw column into typed values and
   flags its bad cells (bad date, negative amount, ...).
2. `ROW_CHECKS`: functions `(tables, config) -> list[Issue]` over the rows still valid:
   duplicates, references between sheets, date order. A flagged row leaves its frame
   before the next check runs, so one mistake is reported once, where it is.
3. `_finish`: exact money in minor units, final dtypes, drop bad rows.

Raw frames are what `sync.xlsx.reader.read_raw` builds: headers as written, raw cell objects,
and a last column `row` with the Excel row number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from cobranza.book import records as rec
from cobranza.book.addresses import split_addresses
from cobranza.book.config import DEFAULTS, Config, parse_config
from cobranza.book.countries import COUNTRY_HINT, country_code
from cobranza.book.money import (
    CURRENCY_HINT,
    EXCEL_DIGITS,
    currency_code,
    decimals,
    excess_decimals,
    to_minor,
)
from cobranza.book.parse import (
    AMOUNT_MAX,
    BLANK,
    blank_mask,
    categories,
    cell_text,
    parse_amounts,
    parse_bools,
    parse_choice,
    parse_dates,
    parse_ints,
    per_unique,
    text_codes,
    to_text,
)
from cobranza.book.positions import first_occurrence, key_numbering
from cobranza.book.text import header_positions, normalize
from cobranza.plural import count
from cobranza.vocabulary import Result

CONFIG_SHEET = "Configuración"
TEMPLATES_SHEET = "Plantillas"
PLANS_SHEET = "Convenios"  # optional: a workbook without it has no payment plans
REQUIRED_SHEETS = ("Clientes", "Facturas", "Pagos", "Gestiones")
SHEETS = (*REQUIRED_SHEETS, CONFIG_SHEET, TEMPLATES_SHEET, PLANS_SHEET)
# Table name in Book -> (sheet, columns spec of cobranza.book.records).
TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "customers": ("Clientes", rec.CUSTOMER_COLUMNS),
    "invoices": ("Facturas", rec.INVOICE_COLUMNS),
    "payments": ("Pagos", rec.PAYMENT_COLUMNS),
    "contacts": ("Gestiones", rec.CONTACT_COLUMNS),
    "collectors": (CONFIG_SHEET, rec.COLLECTOR_COLUMNS),
    "areas": (CONFIG_SHEET, rec.AREA_COLUMNS),
    "notices": (CONFIG_SHEET, rec.NOTICE_COLUMNS),
    "templates": (TEMPLATES_SHEET, rec.TEMPLATE_COLUMNS),
    "plans": (PLANS_SHEET, rec.PLAN_COLUMNS),
}
PARAMETER_COLUMNS = {"parametro*": "parameter", "valor*": "value"}
# Configuración blocks, found by their first header: key -> (title, what happens if absent).
CONFIG_BLOCKS = {
    "parametro": ("Parámetro, Valor", "se usan los valores predeterminados"),
    "cobrador": ("Cobrador, Email", "no hay correos de cobradores para los resúmenes"),
    "area": ("Área, Responsable, Email", "no hay responsables de área para los resúmenes"),
    "codigo": ("Código, Referencia, Días, Plantilla, Activo", "se usan los avisos predeterminados"),
}
# The SPEC's Avisos table, used when Configuración has none (ESTADO_MENSUAL: 1st business day).
DEFAULT_NOTICES = (
    ("NUEVA", "emision", 0), ("PREVIO", "vencimiento", -5), ("VENCIDA_1", "vencimiento", 1),
    ("VENCIDA_15", "vencimiento", 15), ("VENCIDA_30", "vencimiento", 30),
    ("MORA_45", "vencimiento", 45), ("SUSPENSION_60", "vencimiento", 60),
    ("PROMESA_PREVIA", "compromiso", -1), ("PROMESA_INCUMPLIDA", "compromiso", 1),
    ("ESTADO_MENSUAL", "mes", 1), ("SIN_CONTACTO", "gestion", 0),
    ("CUOTA_PREVIA", "cuota", -3), ("CUOTA_VENCIDA", "cuota", 1),
)
REFERENCES = {"emision": "emision", "vencimiento": "vencimiento", "compromiso": "compromiso",
              "gestion": "gestion", "mes": "mes", "cuota": "cuota"}
# Headers as shown to users, for columns a message names but the sheet may lack.
_LABELS = {
    "codigo": "Código", "dias": "Días", "area": "Área", "emision": "Emisión",
    "limite de credito": "Límite de crédito", "telefono": "Teléfono", "parametro": "Parámetro",
    "avisos automaticos": "Avisos automáticos", "email cc": "Email CC", "pais": "País",
}
_DATE_HINT = "use dd/mm/aaaa"


def label(key: str) -> str:
    """Display header of a normalized key ("limite de credito" -> "Límite de crédito")."""
    key = key.rstrip("*")
    return _LABELS.get(key, key[:1].upper() + key[1:])


# ---------------------------------------------------------------- working tables


@dataclass
class Table:
    """One record set being validated: raw cells, typed values and the rows flagged bad."""

    sheet: str
    raw: pd.DataFrame  # internal column -> raw cell objects, plus "row"
    headers: dict[str, str]  # internal column -> header as the user wrote it
    frame: pd.DataFrame  # internal column -> typed values, plus "row"
    bad: pd.Series  # bool per row: dropped from the Book
    _valid: pd.DataFrame | None = None
    _keys: dict[str, tuple[np.ndarray, pd.Index]] = field(default_factory=dict)
    _links: dict[str, tuple[Table, np.ndarray]] = field(default_factory=dict)  # see refs
    _firsts: dict[str, np.ndarray] = field(default_factory=dict)  # see _first
    _columns: dict[str, pd.Series] = field(default_factory=dict)  # see column

    @property
    def valid(self) -> pd.DataFrame:
        """Rows not flagged so far (cached until the next drop)."""
        if self._valid is None:
            self._valid = self.frame[~self.bad]
        return self._valid

    def column(self, col: str) -> pd.Series:
        """`valid[col]` alone (cached until the next drop): a check reading a column or
        two of a million rows does not copy every column after each drop."""
        if self._valid is not None:
            return self._valid[col]
        if col not in self._columns:
            self._columns[col] = self.frame[col][~self.bad]
        return self._columns[col]

    def drop(self, index: pd.Index) -> None:
        self.bad[index] = True
        self._valid = None
        self._firsts.clear()
        self._columns.clear()

    def keys(self, col: str) -> tuple[np.ndarray, pd.Index]:
        """Per frame row the code of its `col` value, and the distinct values. Cached: typed
        values never change (only `bad` does), so each key column is hashed once."""
        if col not in self._keys:
            codes, uniques = pd.factorize(self.frame[col].to_numpy(dtype=object))
            self._keys[col] = codes, pd.Index(uniques, dtype=object)
        return self._keys[col]

    def key_with(self, col: str, *referrers: Table) -> None:
        """`keys(col)` and each referrer's `refs(col, self)` link in one hash pass over
        this table's `col` and theirs: no index of the distinct values is built and
        probed apart (a million Facturas: 0.2 s)."""
        mine, parts, uniques = key_numbering(
            self.frame[col].to_numpy(dtype=object),
            *(r.frame[col].to_numpy(dtype=object) for r in referrers))
        self._keys[col] = mine, pd.Index(uniques, dtype=object)
        for referrer, part in zip(referrers, parts, strict=True):
            referrer._links[col] = self, part

    def find(self, col: str, keys: pd.Series) -> np.ndarray:
        """Position in `valid` of each key's first valid row with that `col`; -1 when none."""
        if keys.empty:  # get_indexer would still hash the whole column into an index
            return np.empty(0, dtype=np.int64)
        return self._first(col)[self.keys(col)[1].get_indexer(keys.to_numpy(dtype=object))]

    def refs(self, col: str, target: Table) -> np.ndarray:
        """Per valid row, `target.find(col, self.valid[col])`; the column is looked up in
        the target's keys once, each later call is a gather."""
        return target._first(col)[self._link(col, target)[~self.bad.to_numpy()]]

    def names(self, col: str, target: Table) -> np.ndarray:
        """Per valid row, whether its `col` is the `col` of some `target` row, valid or not."""
        return self._link(col, target)[~self.bad.to_numpy()] >= 0

    def _link(self, col: str, target: Table) -> np.ndarray:
        """Per frame row, the code of its `col` in `target.keys(col)` (-1: none), cached."""
        link = self._links.get(col)
        if link is None or link[0] is not target:
            codes = target.keys(col)[1].get_indexer(self.frame[col].to_numpy(dtype=object))
            link = self._links[col] = target, codes
        return link[1]

    def categorical(self, col: str, at: np.ndarray | None = None) -> pd.Series:
        """`col` of the valid rows (or of those at positions `at` in `valid`, -1 for
        none) as a categorical of its distinct values: hashed once (`keys`), so the
        work per value (a currency's decimals) runs once per distinct value."""
        codes, uniques = self.keys(col)
        codes = codes[~self.bad.to_numpy()]
        if at is not None:
            codes = np.append(codes, -1)[at]
        return pd.Series(pd.Categorical.from_codes(codes, categories=uniques))

    def _first(self, col: str) -> np.ndarray:
        """Per distinct `col` value, the position in `valid` of its first valid row (-1
        when none), and a last -1 for the code -1 (a value not in the column). Cached
        until the next drop: every refs to a million Facturas asks for it."""
        if col not in self._firsts:
            codes, uniques = self.keys(col)
            first = first_occurrence(codes[~self.bad.to_numpy()], len(uniques))
            self._firsts[col] = np.append(first, -1)
        return self._firsts[col]


@dataclass(frozen=True)
class Issue:
    """Rows of one table with the same kind of problem (becomes one InputError per row)."""

    table: str
    index: pd.Index  # labels of the flagged rows in Table.frame
    column: str  # internal column, "" for a whole-row problem
    problem: str | pd.Series  # Spanish text, or one text per flagged row
    keep: bool = False  # the row stays (its value was replaced by a default)
    shown: pd.Series | None = None  # value to show instead of the raw cell


@dataclass
class _Run:
    tables: dict[str, Table] = field(default_factory=dict)
    errors: list[rec.InputError] = field(default_factory=list)

    def apply(self, issue: Issue) -> None:
        """Record one InputError per flagged row and drop those rows (unless `keep`)."""
        t, index = self.tables[issue.table], issue.index
        if index.empty:
            return
        if not issue.keep:
            t.drop(index)
        if issue.shown is not None:
            values = [str(v) for v in issue.shown[index]]
        elif issue.column:
            values = [cell_text(v) for v in t.raw[issue.column][index]]
        else:
            values = [""] * len(index)
        problem = issue.problem
        problems = [problem] * len(index) if isinstance(problem, str) else list(problem[index])
        header, rows = t.headers.get(issue.column, ""), t.raw["row"][index].tolist()
        self.errors += [
            rec.InputError(t.sheet, int(r), header, v, p)
            for r, v, p in zip(rows, values, problems, strict=True)
        ]

    def sheet_error(self, sheet: str, problem: str) -> None:
        self.errors.append(rec.InputError(sheet, None, "", "", problem))


# ---------------------------------------------------------------- stage 1: cell parsers

@dataclass(frozen=True)
class Parsed:
    """What a cell parser returns for one column."""

    values: pd.Series  # typed values, same index as the raw column
    bad: pd.Series  # bool per cell
    problem: str | pd.Series = ""  # Spanish, or one text per bad cell (indexed like them)
    keep: bool = False  # bad cells get a default and the row stays
    shown: pd.Series | None = None  # what to show as the value instead of the raw cell
    blank: np.ndarray | None = None  # blank cells, when the parser already knows them
    keys: tuple[np.ndarray, pd.Index] | None = None  # `Table.keys` of values, when known


def _text(raw: pd.Series, config: Config) -> Parsed:
    return Parsed(to_text(raw), pd.Series(False, index=raw.index))


def _date(raw: pd.Series, config: Config) -> Parsed:
    cats = categories(raw)
    values, bad = parse_dates(raw, cats)
    return Parsed(values, bad, f"no es una fecha válida ({_DATE_HINT}).", blank=cats == BLANK)


def _money(raw: pd.Series, config: Config) -> Parsed:
    cats = categories(raw)
    values, bad = parse_amounts(raw, config.decimal_separator, cats)
    example = "1,234.56" if config.decimal_separator == "." else "1.234,56"
    negative = f"no puede ser negativo (escriba el importe sin signo, por ejemplo {example})."
    not_number = f"no es un importe válido (use números, por ejemplo {example})."
    too_large = "es demasiado grande para un importe (revise los dígitos)."
    flagged = values[bad]
    problem = pd.Series(np.select([flagged < 0, flagged > AMOUNT_MAX], [negative, too_large],
                                  not_number), index=flagged.index)
    return Parsed(values, bad, problem, blank=cats == BLANK)


def _credit_limit(raw: pd.Series, config: Config) -> Parsed:
    """Like money in the default currency, but a bad limit only blanks the limit: the
    customer stays."""
    parsed = _money(raw, config)
    currency = pd.Series(config.default_currency, index=raw.index)
    amounts = parsed.values.where(~parsed.bad)  # NaN is never in excess
    excess = pd.Series(excess_decimals(amounts, currency), index=raw.index)
    problem = pd.concat([pd.Series(parsed.problem, index=parsed.bad[parsed.bad].index),
                         _excess_problem(parsed.values[excess], currency[excess], config)])
    bad = parsed.bad | excess
    return replace(parsed, values=parsed.values.where(~bad), bad=bad, problem=problem,
                   keep=True)


def _excess_problem(amounts: pd.Series, currencies: pd.Series, config: Config,
                    whose: pd.Series | None = None) -> pd.Series:
    """The Errores text of amounts with more decimals than their currency allows, with
    the two exact amounts around the one written ("por ejemplo 10.00 o 10.01"); `whose`
    names the invoice whose currency a payment takes."""
    texts = []
    for i, (amount, currency) in enumerate(zip(amounts, currencies, strict=True)):
        places = decimals(currency)
        unit = Decimal(1).scaleb(-places)
        below = Decimal(f"{amount:.{EXCEL_DIGITS}g}").quantize(unit, rounding=ROUND_FLOOR)
        around = [f"{d:.{places}f}".replace(".", config.decimal_separator)
                  for d in (below, below + unit)]
        allowed = count(places, "decimal") if places else "sin decimales"
        source = "" if whose is None else f", la moneda de la factura {whose.iloc[i]}"
        texts.append(f"tiene más decimales de los que admite {currency}{source} ({allowed}); "
                     f"escriba el importe exacto, por ejemplo {around[0]} o {around[1]}.")
    return pd.Series(texts, index=amounts.index, dtype=object)


def _currency(raw: pd.Series, config: Config) -> Parsed:
    """A blank Moneda is Configuración's (already checked by the same rule)."""
    codes, uniques = text_codes(raw)
    found = [currency_code(u) if u else config.default_currency for u in uniques]
    upper = np.array([code or "" for code in found], dtype=object)
    wrong = np.array([code is None for code in found], dtype=bool)
    values = pd.Series(upper[codes], index=raw.index, dtype=str)
    bad = pd.Series(wrong[codes], index=raw.index)
    # The values' keys from the cells' few codes: the column is not hashed again. Codes
    # of the distinct cells number the values in the order they first appear too.
    value_codes, distinct = pd.factorize(upper)
    keys = value_codes[codes], pd.Index(distinct, dtype=object)
    return Parsed(values, bad, f"no es un código de moneda ({CURRENCY_HINT}).", keys=keys)


def _result(raw: pd.Series, config: Config) -> Parsed:
    values, bad = parse_choice(raw, {normalize(r): r for r in rec.RESULTS})
    return Parsed(values, bad, f"no es un resultado válido (use uno de: {', '.join(rec.RESULTS)}).")


def _reference(raw: pd.Series, config: Config) -> Parsed:
    values, bad = parse_choice(raw, REFERENCES)
    problem = ("no es una referencia válida (use emisión, vencimiento, compromiso, gestión, "
               "mes o cuota).")
    return Parsed(values, bad, problem)


def _days(raw: pd.Series, config: Config) -> Parsed:
    values, bad = parse_ints(raw)
    return Parsed(values, bad, "no es un número entero de días (por ejemplo -5, 0 o 15).")


def _instalment(raw: pd.Series, config: Config) -> Parsed:
    values, bad = parse_ints(raw)
    bad = bad | (values < 1)
    return Parsed(values, bad, "no es un número de cuota válido (use 1, 2, 3...).")


def _plan_state(raw: pd.Series, config: Config) -> Parsed:
    values, bad = parse_choice(raw, {normalize(s): s for s in rec.PLAN_STATES})
    values = values.where(values != "", rec.PLAN_STATES[0])
    return Parsed(values, bad, "no es un estado de convenio válido (use Activo o Cancelado).")


def _invoice_list(raw: pd.Series, config: Config) -> Parsed:
    """Facturas of a plan: codes separated by ";" (or ","), normalized to "F1;F2"."""
    values = per_unique(to_text(raw), lambda t: ";".join(
        dict.fromkeys(c.strip() for c in t.replace(",", ";").split(";") if c.strip())))
    return Parsed(values.astype(str), pd.Series(False, index=raw.index))


def _emails(raw: pd.Series, config: Config) -> Parsed:
    """Keep the valid addresses of each cell; the invalid ones are reported and dropped."""
    split = per_unique(to_text(raw), _split_emails)
    values = split.str[0].astype(str)
    wrong = split.str[1].astype(str)
    problem = (
        'no es una dirección de correo válida (use nombre@dominio.com; separe varias con ";").'
    )
    return Parsed(values, wrong != "", problem, keep=True, shown=wrong)


def _split_emails(cell: str) -> tuple[str, str]:
    good, bad = split_addresses(cell)
    return ";".join(good), "; ".join(bad)


def _timezone(raw: pd.Series, config: Config) -> Parsed:
    text = to_text(raw)
    bad = ~per_unique(text, _is_zone).astype(bool)
    values = text.where((text != "") & ~bad, config.timezone).astype(str)
    problem = (
        "no es una zona horaria IANA (por ejemplo America/Mexico_City); "
        f"se usa la de Configuración ({config.timezone})."
    )
    return Parsed(values, bad, problem, keep=True)


def _is_zone(name: str) -> bool:
    if name == "":
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _country(raw: pd.Series, config: Config) -> Parsed:
    """País: a country the holiday calendar knows; blank or bad = Configuración's."""
    text = to_text(raw)
    codes = per_unique(text, lambda t: country_code(t) or "")
    bad = (text != "") & (codes == "")
    problem = (
        f"no es un código de país ({COUNTRY_HINT}); mientras tanto se usan el Perfil legal "
        f"({config.legal_profile}) y los feriados de País feriados ({config.holiday_country}) "
        "de Configuración."
    )
    return Parsed(codes.astype(str), bad, problem, keep=True)


def _yes_no(default: bool, consequence: str) -> Callable[[pd.Series, Config], Parsed]:
    def parser(raw: pd.Series, config: Config) -> Parsed:
        values, bad = parse_bools(raw, default)
        return Parsed(values, bad, f"no es Sí ni No (use Sí o No); {consequence}.", keep=True)

    return parser


CELL_PARSERS: dict[str, Callable[[pd.Series, Config], Parsed]] = {
    "text": _text,
    "date": _date,
    "money": _money,
    "credit_limit": _credit_limit,
    "currency": _currency,
    "result": _result,
    "reference": _reference,
    "days": _days,
    "emails": _emails,
    "timezone": _timezone,
    "country": _country,
    "instalment": _instalment,
    "plan_state": _plan_state,
    "invoice_list": _invoice_list,
    # Blank means Sí for these two; a value that is neither Sí nor No means No until fixed.
    "auto_notices": _yes_no(True, "mientras tanto no se envían avisos automáticos al cliente"),
    "active": _yes_no(True, "mientras tanto el aviso queda inactivo"),
    "approved": _yes_no(False, "mientras tanto la plantilla no se usa"),
}
# Table -> column -> parser kind; columns not listed are text.
KINDS: dict[str, dict[str, str]] = {
    "customers": {"emails": "emails", "cc": "emails", "credit_limit": "credit_limit",
                  "auto_notices": "auto_notices", "timezone": "timezone", "country": "country"},
    "invoices": {"issued": "date", "due": "date", "currency": "currency", "amount": "money"},
    "payments": {"date": "date", "amount": "money"},
    "contacts": {"date": "date", "result": "result", "promise_date": "date", "follow_up": "date"},
    "collectors": {"email": "emails"},
    "areas": {"email": "emails"},
    "notices": {"reference": "reference", "days": "days", "active": "active"},
    "templates": {"approved": "approved"},
    "plans": {"invoices": "invoice_list", "date": "date", "instalment": "instalment",
              "due": "date", "amount": "money", "state": "plan_state"},
}
_REQUIRED_HINT = {"date": f"; {_DATE_HINT}", "money": "; escriba el importe"}


def _blanks(kind: str, parsed: Parsed, raw: pd.Series, rows: np.ndarray | None = None
            ) -> np.ndarray:
    """Per cell (of the positions `rows` only, when given) whether it is blank, from what
    its parser found: text values are "" exactly when the cell is blank, and the date
    and money parsers sorted the cells already; the other kinds look at the cells."""
    if kind == "text":  # (compared as objects: faster than the str dtype's ==)
        values = parsed.values.to_numpy(dtype=object)
        return (values if rows is None else values[rows]) == ""
    if parsed.blank is not None:
        return parsed.blank if rows is None else parsed.blank[rows]
    return blank_mask(raw if rows is None else raw.iloc[rows]).to_numpy()


def _has_input(blank: dict[str, np.ndarray], others: list[Callable[[np.ndarray], np.ndarray]],
               size: int) -> np.ndarray:
    """Rows with a value in some input column: a row holding only formula results (the
    template's Facturas row 2) or unknown columns is not a record. `blank`: the blank
    cells of the present required columns; `others`: the blanks of the other present
    columns at given rows, asked only of rows blank so far."""
    empty = np.logical_and.reduce([np.ones(size, dtype=bool), *blank.values()])
    for blanks_at in others:
        rows = np.flatnonzero(empty)
        if not len(rows):
            break
        empty[rows] = blanks_at(rows)
    return ~empty


def _load_table(run: _Run, name: str, sheet: str, raw: pd.DataFrame, config: Config) -> None:
    """Map headers to internal columns, parse every column and flag its bad cells.

    Rows with no input (see `_has_input`) are no records: their cells are told from the
    parsed columns, and in the rare sheet that has such rows, the sheet is loaded again
    without them (a reader drops the fully empty rows already)."""
    columns, spec = list(raw.columns[:-1]), TABLES[name][1]
    kinds = {col: KINDS.get(name, {}).get(col, "text") for col in spec.values()}
    positions = header_positions(columns)
    index = pd.RangeIndex(len(raw))
    raw_cols: dict[str, pd.Series] = {"row": pd.Series(raw.iloc[:, -1].to_numpy(), index=index)}
    headers: dict[str, str] = {}
    present: list[tuple[str, str]] = []  # (internal column, kind) of the columns found
    for key, col in spec.items():
        pos = positions.get(key.rstrip("*"))
        headers[col] = str(columns[pos]).strip() if pos is not None else label(key)
        data = raw.iloc[:, pos].to_numpy() if pos is not None else [None] * len(raw)
        # copy=False: a view of the sheet's cells (pandas 3 copies an array by default:
        # a pass over a million scattered objects per column)
        raw_cols[col] = pd.Series(data, index=index, dtype=object, copy=False)
        if pos is not None:
            present.append((col, kinds[col]))
    raw_frame = pd.DataFrame(raw_cols, copy=False)  # views of the sheet's grid: no copy
    parsed = {col: CELL_PARSERS[kind](raw_frame[col], config) for col, kind in kinds.items()}
    required = {col: _blanks(kinds[col], parsed[col], raw_frame[col])
                for key, col in spec.items() if key.endswith("*")}
    if len(present) == len(columns):  # the reader already dropped fully empty rows
        records = np.ones(len(raw), dtype=bool)
    else:
        records = _has_input(
            {col: required[col] for col, _ in present if col in required},
            [partial(_blanks, kind, parsed[col], raw_frame[col])
             for col, kind in present if col not in required],
            len(raw))
    if not records.all():  # rare: parsed again without them
        _load_table(run, name, sheet, raw[records], config)
        return
    table = Table(sheet, raw_frame, headers, pd.DataFrame(index=index),
                  pd.Series(False, index=index))
    run.tables[name] = table
    issues = []
    for col in spec.values():
        table.frame[col] = parsed[col].values
        if parsed[col].keys is not None:
            table._keys[col] = parsed[col].keys
        bad = parsed[col].bad[parsed[col].bad].index
        issues.append(Issue(name, bad, col, parsed[col].problem, parsed[col].keep,
                            parsed[col].shown))
        if col in required:
            blank = required[col]
            hint = _REQUIRED_HINT.get(kinds[col], "")
            problem = f"falta el dato (obligatorio{hint})."
            issues.append(Issue(name, index[blank], col, problem))
    table.frame["row"] = raw_cols["row"].astype("int64")
    for issue in issues:
        run.apply(issue)


# ---------------------------------------------------------------- stage 2: row checks


def _duplicates(name: str, col: str, what: str) -> Callable[[dict[str, Table], Config], list]:
    def check(tables: dict[str, Table], config: Config) -> list[Issue]:
        table = tables[name]
        codes, uniques = table.keys(col)
        row = table.column("row")
        codes = codes[~table.bad.to_numpy()]
        first = first_occurrence(codes, len(uniques))[codes]
        dup = first != np.arange(len(codes))
        rows = pd.Series(row.to_numpy()[first[dup]], index=row.index[dup])
        problem = f"está repetid{what}; vale la fila " + rows.astype(str) + " y esta se omite."
        return [Issue(name, rows.index, col, problem)]

    return check


def _known(name: str, col: str, target: str, sheet: str, what: str) -> Callable[..., list]:
    """Rows whose `col` is not blank and not a valid `col` of `target`."""

    def check(tables: dict[str, Table], config: Config) -> list[Issue]:
        table, named = tables[name], tables[target]
        values = table.column(col)
        ok = (table.refs(col, named) >= 0) | (values.to_numpy(dtype=object) == "")
        if ok.all():
            return []
        values = values[~ok]
        in_sheet = table.names(col, named)[~ok]
        return [
            Issue(name, values[~in_sheet].index, col,
                  f"no existe en la hoja {sheet} (agréguel{what} allí o corrija el código)."),
            Issue(name, values[in_sheet].index, col,
                  f"tiene errores en la hoja {sheet} (corríjalos primero; vea las otras filas "
                  "de Errores)."),
        ]

    return check


def _same_customer(name: str) -> Callable[[dict[str, Table], Config], list]:
    """Payment/gestión whose Cliente differs from the customer of its Factura."""

    def check(tables: dict[str, Table], config: Config) -> list[Issue]:
        table, invoices = tables[name], tables["invoices"]
        pos = table.refs("invoice", invoices)
        owner = _at(invoices.column("customer").to_numpy(dtype=object), pos)
        index = table.column("customer").index
        customer = table.column("customer").to_numpy(dtype=object)
        wrong = pd.Series((customer != "") & (pos >= 0) & (customer != owner), index=index)
        owner = pd.Series(owner, index=index)
        problem = (
            "no coincide con el cliente de la factura " + table.column("invoice")[wrong] + ' ("'
            + owner[wrong].astype(str) + '"); corrija uno de los dos o deje el Cliente vacío.'
        )
        return [Issue(name, wrong[wrong].index, "customer", problem)]

    return check


def _due_after_issue(tables: dict[str, Table], config: Config) -> list[Issue]:
    invoices = tables["invoices"]
    issued = invoices.column("issued")
    early = invoices.column("due") < issued
    problem = (
        "es anterior a la Emisión (" + issued[early].dt.strftime("%d/%m/%Y")
        + "); revise ambas fechas."
    )
    return [Issue("invoices", early[early].index, "due", problem)]


def _exact_invoice_amounts(tables: dict[str, Table], config: Config) -> list[Issue]:
    """An Importe with more decimals than the invoice's Moneda allows is refused, never
    rounded (checked before duplicates: a refused row is not the one kept)."""
    invoices = tables["invoices"]
    amounts = invoices.column("amount")
    excess = excess_decimals(amounts, invoices.categorical("currency"))
    rows = invoices.frame.loc[amounts.index[excess]]
    problem = _excess_problem(rows["amount"], rows["currency"], config)
    return [Issue("invoices", rows.index, "amount", problem)]


def _exact_payment_amounts(tables: dict[str, Table], config: Config) -> list[Issue]:
    """The same for a payment, in the currency of the invoice it pays."""
    payments, invoices = tables["payments"], tables["invoices"]
    pos = payments.refs("invoice", invoices)  # every payment left names one
    currency = invoices.categorical("currency", at=pos)
    amounts = payments.column("amount")
    excess = excess_decimals(amounts, currency) & (pos >= 0)
    rows = payments.frame.loc[amounts.index[excess]]
    problem = _excess_problem(rows["amount"], currency[excess], config, rows["invoice"])
    return [Issue("payments", rows.index, "amount", problem)]


def _promise_has_date(tables: dict[str, Table], config: Config) -> list[Issue]:
    valid = tables["contacts"].valid
    missing = (valid["result"] == Result.PROMISE) & valid["promise_date"].isna()
    problem = (f'falta el dato (obligatorio cuando el Resultado es "{Result.PROMISE}"; '
               f"{_DATE_HINT}).")
    return [Issue("contacts", missing[missing].index, "promise_date", problem)]


# Plantillas rows around every customer email (they have no subject of their own).
FRAME_TEMPLATES = ("encabezado", "pie")


def _subject_unless_frame(tables: dict[str, Table], config: Config) -> list[Issue]:
    """A notice's or digest's Plantilla needs its Asunto; ENCABEZADO and PIE have none."""
    valid = tables["templates"].valid
    frame = valid["code"].map(normalize).isin(FRAME_TEMPLATES)
    missing = (valid["subject"] == "") & ~frame
    return [Issue("templates", missing[missing].index, "subject", "falta el dato (obligatorio).")]


# ---- Convenios: one row per instalment; a plan's rows must agree on its terms

_PLAN_TERMS = ("customer", "date", "invoices", "state")  # the same on every row of a plan


def _listed_invoices(tables: dict[str, Table]) -> tuple[pd.Series, np.ndarray]:
    """One entry per Factura listed by a valid plan row (indexed by that row, in order),
    and its position in the valid invoices (-1 when none)."""
    valid = tables["plans"].valid
    codes = valid.loc[valid["invoices"] != "", "invoices"].str.split(";").explode()
    return codes, tables["invoices"].find("invoice", codes)


def _plan_invoices(tables: dict[str, Table], config: Config) -> list[Issue]:
    """Each listed Factura exists and is the plan's customer's (the first one that does
    not names the problem)."""
    codes, at = _listed_invoices(tables)
    owners = _at(tables["invoices"].column("customer").to_numpy(dtype=object), at)
    customers = tables["plans"].valid["customer"].to_numpy(dtype=object)
    customers = customers[tables["plans"].valid.index.get_indexer(codes.index)]
    wrong = np.flatnonzero(owners != customers)  # a missing one has owner None
    problems = pd.Series([
        f'la factura "{code}" no existe en la hoja Facturas (corrija el código o quítela '
        "del convenio)." if owner is None else
        f'la factura "{code}" es del cliente "{owner}", no de "{customer}" (un convenio '
        "cubre facturas de un solo cliente)."
        for code, owner, customer in zip(codes.to_numpy(dtype=object)[wrong], owners[wrong],
                                         customers[wrong], strict=True)
    ], index=codes.index[wrong], dtype=object)
    problem = problems[~problems.index.duplicated()]
    return [Issue("plans", problem.index, "invoices", problem)]


def _plan_terms(tables: dict[str, Table], config: Config) -> list[Issue]:
    """A row whose Cliente, Fecha, Facturas or Estado differ from its plan's first row."""
    valid = tables["plans"].valid
    first = valid.groupby("plan", sort=False).head(1).set_index("plan")
    issues = []
    for col in _PLAN_TERMS:
        theirs = first[col].reindex(valid["plan"]).to_numpy()
        differs = pd.Series(theirs != valid[col].to_numpy(), index=valid.index)
        if col == "date":
            differs &= valid["date"].notna().to_numpy()
        rows = first["row"].reindex(valid["plan"]).to_numpy()
        problem = pd.Series(
            [f"no coincide con la fila {r} del mismo convenio; un convenio tiene un solo "
             "Cliente, Fecha, Facturas y Estado (corrija una de las dos filas)." for r in rows],
            index=valid.index, dtype=object)
        issues.append(Issue("plans", differs[differs].index, col, problem))
    return issues


def _plan_instalments(tables: dict[str, Table], config: Config) -> list[Issue]:
    """Cuota once per plan; Vencimiento cuota on or after Fecha and later than the
    previous Cuota's; Importe cuota greater than zero."""
    valid = tables["plans"].valid.sort_values(["plan", "instalment", "row"], kind="stable")
    same = valid.duplicated(["plan", "instalment"], keep="first")
    dup_rows = valid.groupby(["plan", "instalment"])["row"].transform("first")
    duplicate = pd.Series("está repetida en este convenio; vale la fila " + dup_rows.astype(str)
                          + " y esta se omite.", index=valid.index)
    valid = valid[~same]
    early = valid["due"] < valid["date"]
    early_problem = ("es anterior a la Fecha del convenio ("
                     + valid["date"].dt.strftime("%d/%m/%Y") + "); revise ambas fechas.")
    previous = valid.groupby("plan")["due"].shift()
    before = valid.groupby("plan")["instalment"].shift()
    unordered = (valid["due"] <= previous) & ~early
    number = before.fillna(0).astype("int64").astype(str)
    order_problem = ("no es posterior al de la cuota " + number + " ("
                     + previous.dt.strftime("%d/%m/%Y") + "); las cuotas vencen en orden.")
    zero = valid["amount"] == 0
    return [
        Issue("plans", same[same].index, "instalment", duplicate),
        Issue("plans", early[early].index, "due", early_problem),
        Issue("plans", unordered[unordered].index, "due", order_problem),
        Issue("plans", zero[zero].index, "amount", "debe ser mayor que cero (escriba el importe "
              "de la cuota)."),
    ]


def plan_currencies(tables: dict[str, Table]) -> pd.Series:
    """Per valid plan row: the currencies of the invoices it covers (its listed ones, or
    every invoice of its customer when Facturas is blank), as a sorted tuple."""
    valid, invoices = tables["plans"].valid, tables["invoices"].valid
    currencies = invoices["currency"].to_numpy(dtype=object)
    codes, at = _listed_invoices(tables)
    pairs = [pd.DataFrame({"plan": codes.index[at >= 0], "currency": currencies[at[at >= 0]]})]
    blank = valid.loc[valid["invoices"] == "", "customer"]
    if len(blank):  # every invoice of the plan's customer
        theirs = invoices.loc[invoices["customer"].isin(blank), ["customer", "currency"]]
        pairs.append(blank.rename_axis("plan").reset_index()
                     .merge(theirs.drop_duplicates(), on="customer")[["plan", "currency"]])
    found = pd.concat(pairs).drop_duplicates().sort_values(["plan", "currency"])
    out = dict.fromkeys(valid.index, ())
    for plan, currency in zip(found["plan"].tolist(), found["currency"].tolist(), strict=True):
        out[plan] += (currency,)
    return pd.Series(list(out.values()), index=valid.index, dtype=object)


def _plan_amounts(tables: dict[str, Table], config: Config) -> list[Issue]:
    """A plan is in the one currency of its invoices; Importe cuota exact in it."""
    valid = tables["plans"].valid
    found = plan_currencies(tables)
    none = found.map(len) == 0
    mixed = found.map(len) > 1
    mixed_problem = ("cubre facturas en varias monedas (" + found[mixed].map(", ".join)
                     + "); haga un convenio por moneda e indique sus Facturas.")
    currency = found.map(lambda c: c[0] if len(c) == 1 else "")
    one = ~none & ~mixed
    excess = pd.Series(excess_decimals(valid["amount"][one], currency[one]),
                       index=valid.index[one.to_numpy()])
    rows = valid.loc[excess[excess].index]
    return [
        Issue("plans", none[none].index, "invoices", "el cliente no tiene facturas en la hoja "
              "Facturas; el convenio no cubre nada (revise el Cliente)."),
        Issue("plans", mixed[mixed].index, "invoices", mixed_problem),
        Issue("plans", rows.index, "amount",
              _excess_problem(rows["amount"], currency[rows.index], config)),
    ]


# The order matters within a table: a flagged row leaves before the next check. Checks
# that read no Facturas come first: each reads its own table and Clientes, which no later
# check flags, so the Book is the same as in any order that keeps each table's checks in
# sequence, and a reader runs them while Facturas is still being parsed (Validation).
CHECKS_WITHOUT_INVOICES: list[Callable[[dict[str, Table], Config], list[Issue]]] = [
    _duplicates("customers", "customer", "o"),
    _duplicates("notices", "code", "o"),
    _duplicates("templates", "code", "o"),
    _subject_unless_frame,
    _known("payments", "customer", "customers", "Clientes", "o"),
    _known("contacts", "customer", "customers", "Clientes", "o"),
    _known("plans", "customer", "customers", "Clientes", "o"),
]
CHECKS_WITH_INVOICES: list[Callable[[dict[str, Table], Config], list[Issue]]] = [
    _exact_invoice_amounts,
    _duplicates("invoices", "invoice", "a"),
    _due_after_issue,
    _known("invoices", "customer", "customers", "Clientes", "o"),
    _known("payments", "invoice", "invoices", "Facturas", "a"),
    _exact_payment_amounts,
    _known("contacts", "invoice", "invoices", "Facturas", "a"),
    _same_customer("payments"),
    _same_customer("contacts"),
    _promise_has_date,
    _plan_invoices,
    _plan_terms,
    _plan_instalments,
    _plan_amounts,
]
ROW_CHECKS = [*CHECKS_WITHOUT_INVOICES, *CHECKS_WITH_INVOICES]


# ---------------------------------------------------------------- Configuración


def config_blocks(raw: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Split the Configuración grid into its tables, found by their first header.

    A block is a run of non-empty header cells in row 1; it reads down until a row where
    all its cells are empty (or a fully empty sheet row). Keys are normalized first
    headers; each frame keeps its headers and the `row` column last.
    """
    columns = [str(c).strip() if c is not None else "" for c in raw.columns[:-1]]
    rows = raw.iloc[:, -1].to_numpy()
    blocks: dict[str, pd.DataFrame] = {}
    start = 0
    while start < len(columns):
        if columns[start] == "":
            start += 1
            continue
        end = start
        while end < len(columns) and columns[end] != "":
            end += 1
        part = raw.iloc[:, start:end].copy()
        part.columns = columns[start:end]
        part["row"] = rows
        blocks.setdefault(normalize(columns[start]), _until_blank(part))
        start = end
    return blocks


def _until_blank(block: pd.DataFrame) -> pd.DataFrame:
    """Rows up to the first all-empty one (a gap in `row` is an empty sheet row)."""
    empty = np.logical_and.reduce([blank_mask(block.iloc[:, i]) for i in range(block.shape[1] - 1)])
    rows = block["row"].to_numpy(dtype="int64")
    gap = rows - np.r_[1, rows[:-1]] > 1
    stop = np.flatnonzero(empty | gap)
    return block.iloc[: stop[0] if len(stop) else len(block)].reset_index(drop=True)


def _read_config(run: _Run, raw: pd.DataFrame | None) -> tuple[Config, dict[str, pd.DataFrame]]:
    """Config and the raw Cobradores/Áreas/Avisos blocks; missing parts are reported."""
    if raw is None:
        run.sheet_error(CONFIG_SHEET, "la hoja no existe; se usan los valores predeterminados "
                        "(agréguela o use la plantilla: cobranza init).")
        return Config(), {}
    blocks = config_blocks(raw)
    for key, (title, consequence) in CONFIG_BLOCKS.items():
        if key not in blocks:
            run.sheet_error(CONFIG_SHEET, f"no tiene la tabla con los encabezados {title} "
                            f"en la fila 1; {consequence}.")
    params = blocks.get("parametro")
    if params is None:
        return Config(), blocks
    if missing_headers(params, PARAMETER_COLUMNS):
        run.sheet_error(CONFIG_SHEET, 'la tabla de parámetros no tiene la columna "Valor" junto '
                        'a "Parámetro"; se usan los valores predeterminados.')
        return Config(), blocks
    return _parameters(run, params), blocks


def _parameters(run: _Run, params: pd.DataFrame) -> Config:
    names = to_text(params.iloc[:, 0])
    values = params.iloc[:, [normalize(c) for c in params.columns].index("valor")].map(cell_text)
    where = {n: (int(r), v) for n, r, v in zip(names, params["row"], values, strict=True) if n}
    config, issues = parse_config({n: v for n, (_, v) in where.items()})
    defaults = {normalize(k): v for k, v in DEFAULTS.items()}
    header = str(params.columns[1])
    for issue in issues:
        default = defaults.get(normalize(issue.parameter), "")
        then = f"; se usa {default}." if default else "."
        problem = f"no es válido para {issue.parameter}: {issue.problem}{then}"
        row = where[issue.parameter][0]
        run.errors.append(rec.InputError(CONFIG_SHEET, row, header, issue.value, problem))
    return config


# ---------------------------------------------------------------- driver


def missing_headers(raw: pd.DataFrame, spec: dict[str, str]) -> list[str]:
    """Required headers of `spec` (display form) that the raw frame lacks."""
    have = {normalize(h) for h in raw.columns[:-1]}
    return [label(k) for k in spec if k.endswith("*") and k[:-1] not in have]


def structure_problems(raw: dict[str, pd.DataFrame]) -> list[tuple[str, str | None]]:
    """(sheet, missing required header) pairs; header None = the sheet itself is missing."""
    out: list[tuple[str, str | None]] = []
    for sheet, spec in TABLES.values():
        if sheet in REQUIRED_SHEETS:
            found = raw.get(sheet)
            out += [(sheet, None)] if found is None else [
                (sheet, h) for h in missing_headers(found, spec)]
    return out


def _empty_raw(spec: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({**{label(k): [] for k in spec}, "row": []}, dtype=object)


def _notices_raw(run: _Run, blocks: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The Avisos block, or the SPEC's default table (row 0) when it is missing or unusable."""
    block = blocks.get("codigo")
    if block is not None:
        missing = missing_headers(block, rec.NOTICE_COLUMNS)
        if not missing:
            return block
        run.sheet_error(CONFIG_SHEET, f'la tabla Avisos no tiene la columna "{missing[0]}"; '
                        "se usan los avisos predeterminados.")
    rows = [(c, r, d, c, "Sí", 0) for c, r, d in DEFAULT_NOTICES]
    columns = ["Código", "Referencia", "Días", "Plantilla", "Activo", "row"]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def _templates_raw(run: _Run, raw: pd.DataFrame | None) -> pd.DataFrame | None:
    """The Plantillas sheet, or None (no templates) when it is missing or lacks a column."""
    if raw is None:
        run.sheet_error(TEMPLATES_SHEET, "la hoja no existe, así que no hay textos para los "
                        "avisos a clientes y no se envía ninguno (agréguela o use la plantilla: "
                        "cobranza init).")
        return None
    return _with_columns(run, raw, TEMPLATES_SHEET, rec.TEMPLATE_COLUMNS, "ninguna plantilla")


def _plans_raw(run: _Run, raw: pd.DataFrame | None) -> pd.DataFrame | None:
    """The Convenios sheet, or None (no plans) when it is absent or lacks a column."""
    if raw is None:
        return None
    return _with_columns(run, raw, PLANS_SHEET, rec.PLAN_COLUMNS, "ningún convenio")


def _with_columns(run: _Run, raw: pd.DataFrame, sheet: str, columns: dict[str, str],
                  unused: str) -> pd.DataFrame | None:
    """`raw`, or None with one Errores row when it lacks one of `columns` (then
    `unused`, e.g. "ninguna plantilla", is what the sync does without it)."""
    missing = missing_headers(raw, columns)
    if missing:
        run.sheet_error(sheet, f'no tiene la columna "{missing[0]}", así que no se usa '
                        f"{unused} (agréguela o use la plantilla: cobranza init).")
        return None
    return raw


def _finish(tables: dict[str, Table], config: Config
            ) -> tuple[dict[str, pd.DataFrame], rec.KeyRows]:
    """Valid rows only, exact money in minor units, final dtypes, records.py column order;
    and the rows each Factura and Cliente named is in (`Book.key_rows`)."""
    out = {name: t.valid.reset_index(drop=True) for name, t in tables.items()
           if name != "payments"}
    payments = tables["payments"]  # its Cliente is its invoice's (below): not copied first
    out["payments"] = (payments.frame.drop(columns="customer")[~payments.bad]
                       .reset_index(drop=True))
    inv, pay, cust = out["invoices"], out["payments"], out["customers"]
    # Categorical currencies: to_minor's string work runs once per currency, not per row.
    invoices, customers = tables["invoices"], tables["customers"]
    inv["amount"] = to_minor(inv["amount"], invoices.categorical("currency"))
    pos = payments.refs("invoice", invoices)  # every payment has one
    pay["amount"] = to_minor(pay["amount"], invoices.categorical("currency", at=pos))
    # Codes as the one string object of the row they name (equal values): the Book keeps
    # no per-cell copy of a Cliente or Factura (1.5 million strings at 1 000 000 invoices)
    # nor pins the raw cells' memory once they are freed.
    owner = invoices.refs("customer", customers)  # every invoice has one
    inv["customer"] = _shared(inv["customer"], owner, cust["customer"])
    pay["invoice"] = _shared(pay["invoice"], pos, inv["invoice"])
    pay["customer"] = pd.Series(inv["customer"].to_numpy(dtype=object)[pos], index=pay.index,
                                dtype=str, copy=False)
    contacts, con = tables["contacts"], out["contacts"]
    con["customer"] = _shared(con["customer"], contacts.refs("customer", customers),
                              cust["customer"])
    named = contacts.refs("invoice", invoices)  # -1: blank (an unknown one was refused)
    con["invoice"] = _shared(con["invoice"], named, inv["invoice"])
    limit = cust["credit_limit"]
    minor = to_minor(limit.fillna(0), pd.Series(config.default_currency, index=limit.index))
    cust["credit_limit"] = minor.astype("Int64").where(limit.notna(), pd.NA)
    plans = out["plans"]
    currency = plan_currencies(tables).map(lambda c: c[0]).astype(str).reset_index(drop=True)
    plans["currency"] = currency
    plans["amount"] = to_minor(plans["amount"], currency)
    plans["instalment"] = plans["instalment"].astype("int64")
    notices = out["notices"]
    notices["days"] = notices["days"].astype("int64")
    notices["template"] = notices["template"].where(notices["template"] != "", notices["code"])
    for name, frame in out.items():
        extra = ["currency"] if name == "plans" else []
        out[name] = frame[[*TABLES[name][1].values(), *extra, "row"]]
    return out, rec.KeyRows(pos, named, owner)


def _at(values: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """`values` at positions `pos`, None where `pos` is -1. Gathered, not appended to:
    appending the None slot would copy a million objects (one pass over them each)."""
    if not len(values):
        return np.full(len(pos), None, dtype=object)
    out = values[pos]
    out[pos < 0] = None  # -1 picked the last value
    return out


def _shared(values: pd.Series, pos: np.ndarray, source: pd.Series) -> pd.Series:
    """`values` (str) with each cell where `pos` >= 0 replaced by the object of `source`
    at `pos`, an equal string (the row the cell names); the others stay as they are."""
    named = _at(source.to_numpy(dtype=object), pos)
    return pd.Series(np.where(pos >= 0, named, values.to_numpy(dtype=object)),
                     index=values.index, dtype=str, copy=False)  # new: not copied again


class Validation:
    """One workbook validated sheet by sheet, for a reader that has some sheets before
    others (it parses the largest one meanwhile).

    Configuración comes first, since the cell parsers need its parameters; then `add`
    parses each other sheet's cells, in any order, each once, and once every sheet but
    Facturas is in runs the row checks that do not read it (CHECKS_WITHOUT_INVOICES);
    `book()` runs the rest. A sheet never added is absent: missing required sheets or
    columns must have been refused before (see `structure_problems`), so here they are
    treated as empty. The Book does not depend on the order of `add`.
    """

    def __init__(self, config_sheet: pd.DataFrame | None) -> None:
        self._run = _Run()
        self._early_checked = False  # CHECKS_WITHOUT_INVOICES, run once the rest is in
        self.config, blocks = _read_config(self._run, config_sheet)
        for name, source in (("collectors", blocks.get("cobrador")),
                             ("areas", blocks.get("area")),
                             ("notices", _notices_raw(self._run, blocks))):
            self._load(name, source)

    def add(self, sheet: str, raw: pd.DataFrame | None) -> None:
        """Parse the cells of `sheet` (one of SHEETS but Configuración); None = absent."""
        name = _SHEET_TABLES[sheet]
        if name in self._run.tables:
            raise ValueError(f"sheet {sheet} was already added")
        if name == "templates":
            raw = _templates_raw(self._run, raw)
        if name == "plans":
            raw = _plans_raw(self._run, raw)
        self._load(name, raw)
        if not self._early_checked and set(self._run.tables) >= _ALL_BUT_INVOICES:
            self._check(CHECKS_WITHOUT_INVOICES)
            self._early_checked = True

    def texts(self, name: str, *columns: str) -> list[str]:
        """The cells of `columns` of the table `name` as parsed so far (rows not yet
        refused), for work that can start before the Book exists; [] before it is added."""
        table = self._run.tables.get(name)
        if table is None:
            return []
        return [text for column in columns for text in table.column(column).tolist()]

    def book(self) -> rec.Book:
        """The checks across sheets over every sheet added, and the validated Book."""
        for sheet, name in _SHEET_TABLES.items():
            if name not in self._run.tables:
                self.add(sheet, None)
        run = self._run
        tables = run.tables
        tables["invoices"].key_with("invoice", tables["payments"], tables["contacts"])
        self._check(CHECKS_WITH_INVOICES)
        frames, key_rows = _finish(run.tables, self.config)
        order = {s: i for i, s in enumerate(SHEETS)}
        errors = sorted(run.errors, key=lambda e: (order.get(e.sheet, 99), e.row or 0))
        return rec.Book(**frames, config=self.config, errors=errors, key_rows=key_rows)

    def _check(self, checks: list[Callable[[dict[str, Table], Config], list[Issue]]]) -> None:
        for check in checks:
            for issue in check(self._run.tables, self.config):
                self._run.apply(issue)

    def _load(self, name: str, source: pd.DataFrame | None) -> None:
        sheet, spec = TABLES[name]
        _load_table(self._run, name, sheet, _empty_raw(spec) if source is None else source,
                    self.config)


# Sheet -> the table of Book it holds (Configuración holds three: see Validation).
_SHEET_TABLES = {sheet: name for name, (sheet, _) in TABLES.items() if sheet != CONFIG_SHEET}
_ALL_BUT_INVOICES = set(TABLES) - {"invoices"}


def validate(raw: dict[str, pd.DataFrame]) -> rec.Book:
    """Validate raw sheet frames (keys = sheet names of SHEETS) into a Book, at once."""
    validation = Validation(raw.get(CONFIG_SHEET))
    for sheet in _SHEET_TABLES:
        validation.add(sheet, raw.get(sheet))
    return validation.book()
