"""Render the HTML part of a demo customer email to PDF and PNG, to look at it.

    python -m benchmarks.render_email [--eml FILE] [--out DIR]

Without --eml it runs `cobranza demo` in a temporary folder (every message goes to the
outbox `salida/`) and takes the shortest customer email listing three invoices or more.
Writes into --out (default `render-email/`): `email.html` and, per engine,
`email-<engine>.pdf` and `email-<engine>.png` (its pages one under the other):

* `weasyprint` (a CSS engine, as a mail client reads the inline styles: the picture to
  judge the look), when the package is installed (`pip install -e ".[render]"`);
* `libreoffice` (the soffice already used by the tests; without Writer it reads the HTML
  with Calc's HTML import, which keeps the text and the table but few styles).

The PNG comes from the PDF through pypdfium2 and Pillow (also in the `render` extra).
"""

from __future__ import annotations

import argparse
import email
import subprocess
import sys
import tempfile
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

from tests.lo import HTML_IMPORT, convert_to_pdf

CLI = [sys.executable, "-c", "import sys; from sync.cli import main; sys.exit(main())"]


def demo_email(folder: Path) -> EmailMessage:
    """The shortest demo customer email whose table lists at least three invoices (a page
    to look at: text, table, totals), else the one with the largest table."""
    subprocess.run([*CLI, "demo", "--dir", str(folder)], check=True, capture_output=True)
    messages = [email.message_from_bytes(p.read_bytes(), policy=default_policy)
                for p in sorted((folder / "salida").glob("*.eml"))]
    customer = [m for m in messages if m.get_body(preferencelist=("html",)) is not None]
    rows = {id(m): html_of(m).count("<tr>") - 2 for m in customer}  # minus header, a total
    several = [m for m in customer if rows[id(m)] >= 3]
    if not several:
        return max(customer, key=lambda m: rows[id(m)])
    return min(several, key=lambda m: len(html_of(m)))


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def with_weasyprint(page: Path, pdf: Path) -> bool:
    try:
        import weasyprint
    except ImportError:
        print("weasyprint no está instalado: pip install -e '.[render]'", file=sys.stderr)
        return False
    weasyprint.HTML(filename=str(page)).write_pdf(str(pdf))
    return True


def with_libreoffice(page: Path, pdf: Path) -> bool:
    convert_to_pdf(page, pdf.parent, infilter=HTML_IMPORT).replace(pdf)
    return True


def pages_png(pdf: Path, png: Path) -> None:
    """Every page of `pdf`, one under the other, as one PNG."""
    import pypdfium2
    from PIL import Image

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        pages = [page.render(scale=1.5).to_pil() for page in document]
    finally:
        document.close()
    sheet = Image.new("RGB", (max(p.width for p in pages), sum(p.height for p in pages)),
                      "white")
    top = 0
    for page in pages:
        sheet.paste(page, (0, top))
        top += page.height
    sheet.save(png)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eml", type=Path, help="an .eml file (default: a demo email)")
    parser.add_argument("--out", type=Path, default=Path("render-email"))
    args = parser.parse_args(argv)
    if args.eml:
        message = email.message_from_bytes(args.eml.read_bytes(), policy=default_policy)
    else:
        with tempfile.TemporaryDirectory(prefix="render-email-") as folder:
            message = demo_email(Path(folder))
    args.out.mkdir(parents=True, exist_ok=True)
    page = args.out / "email.html"
    page.write_text(html_of(message), encoding="utf-8")
    print(f"{message['To']}: {message['Subject']}")
    for engine, render in (("weasyprint", with_weasyprint), ("libreoffice", with_libreoffice)):
        pdf, png = args.out / f"email-{engine}.pdf", args.out / f"email-{engine}.png"
        if render(page, pdf):
            pages_png(pdf, png)
            print(f"{engine}: {pdf} {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
