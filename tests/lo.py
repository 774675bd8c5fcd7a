"""LibreOffice headless helpers for tests: a real second consumer of our files."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

# Comma, double quotes, UTF-8, raw values, every sheet to its own file (LibreOffice >= 7.2).
# LibreOffice's HTML import that every install has (Writer's is missing from -nogui ones).
HTML_IMPORT = "HTML (StarCalc)"
CSV_ALL_SHEETS = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        raise RuntimeError("LibreOffice (soffice) no está instalado")
    return found


# A profile setting that makes LibreOffice recalculate every formula of an .xlsx/.xlsm on
# load (OOXMLRecalcMode 0 = always), as a user who presses Ctrl+Shift+F9 would.
_RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def convert(path: Path, target: str, outdir: Path, timeout: float = 120,
            infilter: str = "", recalc: bool = False) -> str:
    """Run `soffice --convert-to target` (reading with `infilter` if given); return its
    output. Raises when it fails.

    Each call uses a private profile (`-env:UserInstallation`) so concurrent test runs
    never share LibreOffice state or lock files.
    """
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-"))
    if recalc:
        (profile / "user").mkdir()
        (profile / "user" / "registrymodifications.xcu").write_text(_RECALC_ALWAYS, "utf-8")
    try:
        done = subprocess.run(
            [soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless",
             "--norestore", *([f"--infilter={infilter}"] if infilter else []),
             "--convert-to", target, "--outdir", str(outdir), str(path)],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"LibreOffice no convirtió {path.name}: {done.stdout}{done.stderr}")
    return done.stdout


def convert_to_pdf(path: Path, outdir: Path | None = None, infilter: str = "") -> Path:
    outdir = outdir or path.parent
    convert(path, "pdf", outdir, infilter=infilter)
    pdf = outdir / f"{path.stem}.pdf"
    if not pdf.exists():
        raise RuntimeError(f"LibreOffice no produjo {pdf.name}")
    return pdf


def convert_to_csv(path: Path, outdir: Path, recalc: bool = False) -> dict[str, Path]:
    """Every sheet as `<stem>-<sheet>.csv` (recalculated on load if `recalc`); returns
    sheet name -> file."""
    convert(path, CSV_ALL_SHEETS, outdir, recalc=recalc)
    prefix = f"{path.stem}-"
    return {p.stem.removeprefix(prefix): p for p in outdir.glob(f"{prefix}*.csv")}
