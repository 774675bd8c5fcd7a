"""Render the demo's output sheets with LibreOffice headless to PNG, to look at them.

    python scripts/render_sheets.py OUT_DIR [--sheets Tablero Alertas Cartera]

Builds the demo workbook (`cobranza init --demo`'s data and cut-off), runs one sync as a
dry run (nothing is sent), then for each sheet prints a copy holding only that sheet
visible, landscape and one page wide, to PDF and renders its first page at 110 dpi:
`OUT_DIR/<Sheet>.png`. Only the copies are changed for printing. Needs LibreOffice and
the test extras (pypdfium2).
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

import pypdfium2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync.cli import DEMO_AS_OF  # noqa: E402
from sync.cycle import run_cycle  # noqa: E402
from sync.workbook.init import create_workbook  # noqa: E402
from tests.lo import convert_to_pdf  # noqa: E402

_PAGE = ('<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" '
         'fitToHeight="0"/>')


def _only(workbook_xml: str, sheet: str) -> str:
    """Every other sheet hidden: LibreOffice prints only the visible ones."""
    def hide(match: re.Match[str]) -> str:
        tag = match.group(0)
        if f'name="{sheet}"' in tag or "state=" in tag:
            return tag
        return tag.replace("<sheet ", '<sheet state="hidden" ', 1)

    tags = re.findall(r"<sheet [^>]*/>", workbook_xml)
    active = next(i for i, tag in enumerate(tags) if f'name="{sheet}"' in tag)
    workbook_xml = re.sub(r'<workbookView (?:activeTab="\d+" )?',
                          f'<workbookView activeTab="{active}" ', workbook_xml, count=1)
    return re.sub(r"<sheet [^>]*/>", hide, workbook_xml)


def _one_page_wide(sheet_xml: str) -> str:
    """Landscape, fit to one page wide (as many tall as needed)."""
    fit = '<pageSetUpPr fitToPage="1"/>'
    if re.search(r"<sheetPr[^>]*/>", sheet_xml):
        sheet_xml = re.sub(r"<sheetPr([^>]*)/>", rf"<sheetPr\1>{fit}</sheetPr>", sheet_xml, count=1)
    elif "<sheetPr" in sheet_xml:
        sheet_xml = sheet_xml.replace("</sheetPr>", f"{fit}</sheetPr>", 1)
    else:
        sheet_xml = sheet_xml.replace("<dimension", f"<sheetPr>{fit}</sheetPr><dimension", 1)
    return re.sub(r"(<pageMargins[^>]*/>)", rf"\1{_PAGE}", sheet_xml, count=1)


def _sheet_part(z: zipfile.ZipFile, sheet: str) -> str:
    workbook = z.read("xl/workbook.xml").decode()
    rel_id = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="(\w+)"', workbook)
    rels = z.read("xl/_rels/workbook.xml.rels").decode()
    target = re.search(rf'<Relationship [^>]*Id="{rel_id.group(1)}"[^>]*Target="([^"]+)"',
                       rels) or re.search(
        rf'<Relationship [^>]*Target="([^"]+)"[^>]*Id="{rel_id.group(1)}"', rels)
    return "xl/" + target.group(1).removeprefix("/xl/")


def printable_copy(workbook: Path, sheet: str, out: Path) -> Path:
    with zipfile.ZipFile(workbook) as z:
        part = _sheet_part(z, sheet)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
            for info in z.infolist():
                data = z.read(info)
                if info.filename == "xl/workbook.xml":
                    data = _only(data.decode(), sheet).encode()
                elif info.filename == part:
                    data = _one_page_wide(data.decode()).encode()
                copy.writestr(info, data)
    return out


def render(workbook: Path, sheet: str, out_dir: Path) -> Path:
    copy = printable_copy(workbook, sheet, out_dir / f"{sheet}.xlsm")
    pdf = convert_to_pdf(copy, out_dir)
    page = pypdfium2.PdfDocument(pdf)[0]
    png = out_dir / f"{sheet}.png"
    page.render(scale=110 / 72).to_pil().save(png)
    copy.unlink()
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--sheets", nargs="+", default=["Tablero", "Alertas", "Cartera"])
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    workbook = args.out_dir / "demo.xlsm"
    workbook.unlink(missing_ok=True)
    create_workbook(workbook, demo=True, as_of=DEMO_AS_OF.date())
    run_cycle(workbook, DEMO_AS_OF, dry_run=True)
    for sheet in args.sheets:
        print(render(workbook, sheet, args.out_dir))


if __name__ == "__main__":
    main()
