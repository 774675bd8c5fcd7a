"""Demo data (sync.workbook.demo) and `cobranza init` (sync.workbook.init.create_workbook)."""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from addin.build_template import UI_PART, VBA_DIR
from addin.paths import template_path
from cobranza.book.records import RESULTS
from sync.errors import WorkbookError
from sync.workbook.demo import AREAS, COLLECTORS, THIRD_PARTY, generate
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book

AS_OF = date(2026, 11, 25)


def day(offset: int) -> date:
    return AS_OF + timedelta(days=offset)


@pytest.fixture(scope="module")
def data():
    return generate(AS_OF)


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory) -> Path:
    return create_workbook(tmp_path_factory.mktemp("demo") / "cobranza.xlsm", demo=True,
                           as_of=AS_OF)


def test_same_seed_same_rows_other_seed_other_rows(data):
    assert generate(AS_OF) == data
    assert generate(AS_OF, seed=8).customers != data.customers


def test_sizes(data):
    assert (len(data.customers), len(data.invoices), len(data.payments),
            len(data.contacts), len(data.plans)) == (152, 2003, 1432, 201, 6)
    assert (len(data.collectors), len(data.areas)) == (5, 4)
    small = generate(AS_OF, invoices=300, customers=40, plans=False)
    assert (len(small.invoices), len(small.customers), small.plans) == (300, 40, [])
    currencies = Counter(r[4] for r in data.invoices)
    assert currencies == {"MXN": 1728, "USD": 275}


def by_invoice(data, number: str) -> list[tuple]:
    return [r for r in data.invoices if r[0] == number]


def test_notice_stage_invoices(data):
    c = data.cases
    assert by_invoice(data, c["nueva"]) == [
        ("F-000001", c["cliente_nueva"], AS_OF, day(30), "MXN", 48500.0, None)]
    assert by_invoice(data, c["previo"])[0][3] == day(5)
    for stage, late in (("vencida_1", 1), ("vencida_15", 15), ("vencida_30", 30),
                        ("mora_45", 45), ("suspension_60", 60)):
        assert by_invoice(data, c[stage])[0][3] == day(-late), stage
    assert by_invoice(data, c["llamada_previa"])[0][3:6] == (day(2), "MXN", 250000.0)


def test_every_result_and_the_status_cases(data):
    c = data.cases
    assert set(RESULTS) <= {r[4] for r in data.contacts}
    promise_today = [r for r in data.contacts if r[3] == c["promesa_hoy"]]
    assert promise_today == [(day(-5), "Ana López", c["cliente_promesas"], "F-000008",
                              "Promesa de pago", AS_OF, None,
                              "Confirma pago por transferencia para hoy", None)]
    assert [r[5] for r in data.contacts if r[3] == c["promesa_ayer"]] == [day(-1)]
    resolved = [(r[0], r[4]) for r in data.contacts if r[3] == c["disputa_resuelta"]]
    assert resolved == [(day(-40), "Disputa"), (day(-10), "Disputa resuelta")]
    assert [r[4] for r in data.contacts if r[2] == c["cliente_seguimiento"] and r[3] is None] \
        == ["Sin contacto"]
    reported = [r[0] for r in data.contacts if r[3] == c["pago_informado_viejo"]]
    assert reported == [day(-10)]
    # the PREVIO customer could not be reached today: SIN_CONTACTO and PREVIO in one email
    assert [r[:5] for r in data.contacts if r[2] == c["cliente_previo"]] == [
        (AS_OF, "Ana López", c["cliente_previo"], c["previo"], "Sin contacto")]


def test_payment_cases(data):
    c = data.cases
    paid = Counter()
    for when, _customer, invoice, amount, _ref in data.payments:
        paid[invoice] += amount
        assert when < AS_OF
    assert [p[3] for p in data.payments if p[2] == c["dos_parciales"]] == [4000.0, 6000.0]
    assert paid[c["dos_parciales"]] == 10000.0
    assert paid[c["parcial"]] == 5000.0
    assert paid[c["pagada"]] == 8750.0


def test_customer_cases(data):
    c = data.cases
    customers = {r[0]: r for r in data.customers}
    assert len(customers) == 152
    assert customers[c["sin_avisos"]][8] == "No"
    assert "@" not in customers[c["sin_email"]][2]
    assert customers[c["cliente_tercero"]][10] == THIRD_PARTY
    assert customers[c["vip"]][5] == "VIP"
    assert customers[c["credito_95"]][6] == 100000.0
    assert by_invoice(data, c["factura_credito_95"])[0][5] == 95000.0
    assert {customers[c[f"cliente_{k}"]][9] for k in ("co", "cl", "pe")} == {
        "America/Bogota", "America/Santiago", "America/Lima"}
    # País: every customer has its country; several outside Mexico, one without a profile
    assert [customers[c[f"cliente_{k}"]][11] for k in ("co", "cl", "pe", "ar")] == [
        "CO", "CL", "PE", "AR"]
    assert customers[c["cliente_ar"]][1:3] == (
        "Importadora Río de la Plata S.A.", "pagos.importadora-rio-de-la-plata@cliente-demo.ar")
    assert {r[11] for r in data.customers} == {"MX", "CO", "CL", "PE", "AR"}
    assert all("@cliente-demo." in r[2] for r in data.customers if r[0] != c["sin_email"])
    assert not [r for r in data.contacts if r[2] == c["sin_gestion"]]


def test_bad_rows(data):
    c = data.cases
    cust = c["cliente_duplicada"]
    assert data.invoices[32:39] == [
        ("F-000033", cust, day(-20), day(10), "MXN", 5400.0, None),
        ("F-000034", cust, day(-10), "31/02/2026", "MXN", 3200.0, None),
        ("F-000035", cust, day(-10), day(20), "MXN", -1500.0, None),
        ("F-000036", cust, day(-10), day(20), "MXN", "mil pesos", None),
        ("F-000037", "ZZZ991231XX9", day(-10), day(20), "MXN", 2100.0, None),
        ("F-000033", cust, day(-5), day(25), "MXN", 5450.0, "Captura duplicada"),
        ("F-000038", cust, day(-10), day(-40), "MXN", 4100.0, None),
    ]
    assert (day(-3), cust, "F-999999", 1000.0, "SPEI 1000005") in data.payments
    assert [r[4] for r in data.contacts if r[4] not in RESULTS] == ["Llamar la próxima semana"]
    numbers = Counter(r[0] for r in data.invoices)
    assert [n for n, k in numbers.items() if k > 1] == ["F-000033"]


def test_create_workbook_refuses_to_overwrite(tmp_path):
    existing = tmp_path / "libro.xlsm"
    existing.write_bytes(b"datos del usuario")
    with pytest.raises(WorkbookError) as err:
        create_workbook(existing)
    assert str(err.value) == (
        f'Ya existe el archivo "{existing}"; no se sobrescribe. '
        "Elija otro nombre o mueva el archivo existente.")
    assert existing.read_bytes() == b"datos del usuario"
    with pytest.raises(WorkbookError, match=r"extensión \.xlsm"):
        create_workbook(tmp_path / "libro.xlsx")


def test_create_workbook_without_demo_is_the_template_with_its_own_id(tmp_path):
    out = create_workbook(tmp_path / "nuevo" / "cobranza.xlsm")
    other = create_workbook(tmp_path / "otro.xlsm")
    assert sorted(p.name for p in out.parent.iterdir()) == ["cobranza.xlsm"]
    with zipfile.ZipFile(out) as new, zipfile.ZipFile(template_path()) as tpl:
        changed = {n for n in tpl.namelist() if new.read(n) != tpl.read(n)}
        assert sorted(new.namelist()) == sorted(tpl.namelist())
    # Only Configuración (sheet and its parameters table) differs: the Id del libro row.
    assert changed == {"xl/worksheets/sheet5.xml", "xl/tables/table5.xml"}
    ids = []
    for book in (out, other):
        config = openpyxl.load_workbook(book)["Configuración"]
        assert config.tables["tblParametros"].ref == "A1:B40"
        assert config["A40"].value == "Id del libro"
        ids.append(config["B40"].value)
        assert read_book(book).config.workbook_id == ids[-1]
    assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", i) for i in ids)
    assert ids[0] != ids[1]


def test_demo_workbook_tables_hold_the_rows(demo_book, data):
    wb = openpyxl.load_workbook(demo_book)
    refs = {name: ref for ws in wb.worksheets for name, ref in ws.tables.items()}
    assert refs == {
        "tblClientes": "A1:L153", "tblFacturas": "A1:L2004", "tblPagos": "A1:E1433",
        "tblGestiones": "A1:I202", "tblParametros": "A1:B40", "tblCobradores": "D1:F6",
        "tblAreas": "H1:J5", "tblAvisos": "L1:P14", "tblPlantillas": "A1:D20",
        "tblConvenios": "A1:H7",
    }
    facturas = wb["Facturas"]
    row35 = [c.value for c in facturas[35]][:7]
    assert row35[2].date() == day(-10)
    assert row35[:2] + row35[3:] == [
        "F-000034", data.cases["cliente_duplicada"], "31/02/2026", "MXN", 3200, None]
    assert facturas["C2"].value.date() == AS_OF
    assert facturas["C2"].number_format == "dd/mm/yyyy"
    assert facturas["F2"].number_format == "#,##0.00"
    assert facturas["F37"].value == "mil pesos"
    assert facturas["L2004"].value == (
        '=IFERROR(IF(INDEX(_calc!$E:$E,ROW())="","",INDEX(_calc!$E:$E,ROW())),"")')
    config = wb["Configuración"]
    assert [tuple(c.value for c in r) for r in config["D2:F6"]] == list(COLLECTORS)
    assert [tuple(c.value for c in r) for r in config["H2:J5"]] == list(AREAS)
    assert wb["Gestiones"]["E2"].value == "Promesa de pago"


def test_demo_company_fills_every_payment_parameter(demo_book):
    config = read_book(demo_book).config
    assert config.payment_link == (
        "https://pagos.miempresa.com/pagar?cliente={cliente}&factura={factura}"
        "&importe={importe}&moneda={moneda}")
    assert (config.early_discount, config.early_days) == (Decimal(2), 10)
    assert all((config.legal_name, config.tax_id, config.address, config.collections_phone,
                config.office_hours, config.bank, config.beneficiary, config.privacy_notice))
    assert config.privacy_notice.startswith("https://")
    clabe = config.account  # 18 digits, the last one the check digit (weights 3, 7, 1)
    weighted = sum(int(d) * (3, 7, 1)[i % 3] % 10 for i, d in enumerate(clabe[:17]))
    assert re.fullmatch(r"\d{18}", clabe) and int(clabe[17]) == (10 - weighted % 10) % 10
    assert all(phone for _, _, phone in COLLECTORS)


def test_demo_workbook_keeps_ribbon_and_vba(demo_book):
    with zipfile.ZipFile(demo_book) as zf, zipfile.ZipFile(template_path()) as tpl:
        assert (UI_PART in zf.namelist()) == (UI_PART in tpl.namelist())
        has_vba = "xl/vbaProject.bin" in zf.namelist()
        assert has_vba == ("xl/vbaProject.bin" in tpl.namelist())
    if any(VBA_DIR.glob("*.bas")):
        import pyopenvba

        with pyopenvba.ExcelFile(demo_book) as wb, pyopenvba.ExcelFile(template_path()) as t:
            assert wb.vba_modules() == t.vba_modules()


def test_the_demo_keeps_a_promise(demo_book, data):
    """Tablero's Promesas cumplidas is not 0 % only for want of data: the `pagada` case was
    promised for the day it was paid."""
    from cobranza.rules.invoices import compute_invoices
    from cobranza.rules.kpis import compute_kpis

    c = data.cases
    assert [r[:6] for r in data.contacts if r[3] == c["pagada"]] == [
        (day(-15), c_collector(data, c["cliente_pagos"]), c["cliente_pagos"], c["pagada"],
         "Promesa de pago", day(-12))]
    book = read_book(demo_book)
    kpis = compute_kpis(book, compute_invoices(book, AS_OF), AS_OF)
    mxn = kpis.totals.set_index("currency").loc["MXN"]
    assert int(mxn["promises_kept"]) == 1 and mxn["promises_kept_pct"] > 0
    assert kpis.productivity["promises_kept"].sum() == 1


def c_collector(data, customer: str) -> str:
    return next(r[7] for r in data.customers if r[0] == customer)
