"""The VBA side of the add-in: ribbon XML, callbacks, UDF wrappers, xlwings module.

Checks the sources against each other and against Python, reads the modules back from a
built template with an independent reader (oletools' olevba) and compiles them with
pyOpenVBA's headless VBA parser. Regenerate Funciones.bas after changing a UDF's
signature with `python tests/test_vba.py --write`.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import re
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import openpyxl
import pytest
import xlwings
from oletools.olevba import VBA_Parser
from pyopenvba.interpreter import _parse, _preprocess
from pyopenvba.interpreter._lex import tokenize

ROOT = Path(__file__).resolve().parents[1]
ADDIN = ROOT / "addin"
VBA_DIR = ADDIN / "vba"
CUSTOM_UI = ADDIN / "customUI.xml"
NS = {"ui": "http://schemas.microsoft.com/office/2009/07/customui"}
XLWINGS_DIR = Path(xlwings.__file__).parent

FUNCIONES_HEADER = (
    'Attribute VB_Name = "Funciones"\n'
    "' Excel wrappers of the Python UDFs in addin/udfs.py, written by xlwings' own\n"
    "' generate_vba_wrapper from their @xw.func metadata. Do not edit: regenerate with\n"
    "'     python tests/test_vba.py --write\n"
    "' (the comment is not on the #Const line: pyOpenVBA's preprocessor rejects that).\n"
    '#Const App = "Microsoft Excel"\n'
)

# Ribbon callback (customUI onAction = VBA Sub) -> Python handler in addin.ribbon.
HANDLERS = {
    "VistaPrevia": "vista_previa",
    "EnviarRecordatorios": "enviar_recordatorios",
    "RegistrarGestion": "registrar_gestion",
    "EstadoDeCuenta": "estado_de_cuenta",
    "EntregarATerceros": "entregar_a_terceros",
    "ActualizarAlertas": "actualizar_alertas",
    "Validar": "validar",
}

# Conditional-compilation constants of the platforms the workbook may open on.
PLATFORMS = {
    "Windows 64-bit": {},
    "Windows 32-bit": {"Win64": False},
    "Mac": {"Mac": True, "Win32": False, "Win64": False, "MacOffice16": True},
    "Office 2007 (VBA6)": {"VBA7": False, "Win64": False},
}


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8").replace("\r\n", "\n")


def sources() -> dict[str, str]:
    return {p.stem: read(p) for p in sorted(VBA_DIR.glob("*.bas")) + sorted(VBA_DIR.glob("*.cls"))}


def procedures(source: str) -> dict[str, str]:
    """Sub/Function name -> its parameter list text."""
    pattern = r"(?mi)^(?:Public |Private )?(?:Sub|Function) (\w+)\(([^)]*)\)"
    return {m.group(1): m.group(2) for m in re.finditer(pattern, source)}


def on_actions() -> list[str]:
    root = ET.parse(CUSTOM_UI).getroot()
    return [b.get("onAction") for b in root.iterfind(".//ui:button", NS)]


# --- customUI.xml and Cinta.bas ---------------------------------------------------------


def test_custom_ui_declares_the_cobranza_tab_with_seven_spanish_buttons():
    root = ET.parse(CUSTOM_UI).getroot()
    assert root.tag == "{http://schemas.microsoft.com/office/2009/07/customui}customUI"
    tabs = root.findall(".//ui:tab", NS)
    assert [t.get("label") for t in tabs] == ["Cobranza"]
    buttons = root.findall(".//ui:button", NS)
    assert [(b.get("label"), b.get("onAction"), b.get("imageMso")) for b in buttons] == [
        ("Vista previa", "VistaPrevia", "FilePrintPreview"),
        ("Enviar recordatorios", "EnviarRecordatorios", "FileSendAsAttachment"),
        ("Registrar gestión", "RegistrarGestion", "ReviewNewComment"),
        ("Estado de cuenta", "EstadoDeCuenta", "AccountingFormat"),
        ("Entregar a terceros", "EntregarATerceros", "ExportExcel"),
        ("Actualizar alertas", "ActualizarAlertas", "RefreshAll"),
        ("Validar", "Validar", "DataValidation"),
    ]
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))


def test_every_on_action_is_a_ribbon_callback_sub_in_cinta():
    procs = procedures(read(VBA_DIR / "Cinta.bas"))
    for action in on_actions():
        assert procs.get(action) == "control As IRibbonControl", action
    assert sorted(procs) == sorted(on_actions())


def run_python_commands() -> list[str]:
    return re.findall(r'RunPython "([^"]+)"', read(VBA_DIR / "Cinta.bas"))


def test_every_run_python_command_resolves_to_a_python_function():
    commands = run_python_commands()
    assert len(commands) == 7
    for command in commands:
        m = re.fullmatch(r"import ([\w.]+); \1\.(\w+)\(\)", command)
        assert m, command
        module = importlib.import_module(m.group(1))
        assert callable(getattr(module, m.group(2))), command


def test_ribbon_callbacks_run_their_command_in_the_vba_interpreter():
    """Run each callback in pyOpenVBA with a recording RunPython in place of xlwings'."""
    from pyopenvba.interpreter import NOTHING, Interpreter

    vba = Interpreter()
    vba.add_module(
        'Attribute VB_Name = "FakeXlwings"\nPublic Calls As String\n'
        "Public Function RunPython(PythonCommand As String)\n"
        '    Calls = Calls & PythonCommand & "|"\nEnd Function\n',
        name="FakeXlwings",
    )
    vba.add_module(read(VBA_DIR / "Cinta.bas"), name="Cinta")
    vba.initialise()
    recorded = vba.module("FakeXlwings").variables["calls"]
    ran = {}
    for action in on_actions():
        recorded.value = ""
        vba.run(action, [NOTHING])
        ran[action] = str(recorded.value)
    expected = {sub: f"import addin.ribbon; addin.ribbon.{py}()|" for sub, py in HANDLERS.items()}
    assert ran == expected


# --- Funciones.bas: the UDF wrappers -----------------------------------------------------


def _xlwings_udfs_module() -> types.ModuleType:
    """xlwings.udfs imports pywin32 at the top; stub it (nothing of it runs here)."""
    stubs = {name: types.ModuleType(name) for name in
             ("pythoncom", "pywintypes", "win32com", "win32com.client")}
    stubs["pythoncom"].CoInitialize = lambda: None
    stubs["pywintypes"].com_error = type("com_error", (Exception,), {})
    stubs["win32com.client"].Dispatch = lambda *a: None
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        return importlib.import_module("xlwings.udfs")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        sys.modules.pop("xlwings.udfs", None)


def udf_metadata_module() -> types.ModuleType:
    """addin/udfs.py executed with xlwings' Windows decorators, so it carries __xlfunc__."""
    xu = _xlwings_udfs_module()
    saved = (xlwings.func, xlwings.arg, xlwings.ret)
    xlwings.func, xlwings.arg, xlwings.ret = xu.xlfunc, xu.xlarg, xu.xlret
    try:
        spec = importlib.util.spec_from_file_location("_udfs_with_meta", ADDIN / "udfs.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        xlwings.func, xlwings.arg, xlwings.ret = saved
    module._generate = xu.generate_vba_wrapper
    return module


def generate_funciones() -> str:
    module = udf_metadata_module()
    out = io.StringIO()
    workbook = types.SimpleNamespace(Name="workbook_template.xlsm")
    module._generate("addin.udfs", module, out, workbook)
    return FUNCIONES_HEADER + out.getvalue()


def test_funciones_bas_is_what_xlwings_generates_for_addin_udfs():
    assert read(VBA_DIR / "Funciones.bas") == generate_funciones()


def test_every_wrapper_matches_a_python_udf_with_the_same_argument_names():
    import inspect

    import addin.udfs as udfs

    wrappers = procedures(read(VBA_DIR / "Funciones.bas"))
    assert sorted(wrappers) == [
        "CALCULO_FACTURAS", "DIAS_VENCIDOS", "ESTATUS_COBRO", "PROXIMO_AVISO", "SALDO",
        "TRAMO_MORA", "USO_CREDITO",
    ]
    for name, params in wrappers.items():
        vba_args = [p.replace("Optional ", "").strip() for p in params.split(",")]
        python_args = [a for a in inspect.signature(getattr(udfs, name)).parameters
                       if a != "caller"]
        assert vba_args == python_args, name


# --- the xlwings standalone module --------------------------------------------------------


def test_xlwings_module_is_the_installed_versions_standalone_module():
    """The DLL name inside xlwings.bas is versioned: the copy must match the package."""
    assert (VBA_DIR / "xlwings.bas").read_bytes() == (XLWINGS_DIR / "xlwings.bas").read_bytes()
    assert (VBA_DIR / "Dictionary.cls").read_bytes() == (
        XLWINGS_DIR / "addin" / "Dictionary.cls").read_bytes()
    assert f'XLWINGS_VERSION As String = "{xlwings.__version__}"' in read(VBA_DIR / "xlwings.bas")


# --- the built template: read back with olevba, compile with pyOpenVBA ------------------


@pytest.fixture(scope="module")
def built_template(tmp_path_factory) -> Path:
    from addin.build_template import build

    return build(tmp_path_factory.mktemp("tpl") / "workbook_template.xlsm")


# The VB_Base the VBE stores in a class module's stream in place of the export preamble
CLASS_BASE = 'Attribute VB_Base = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"\n'
EXPORT_PREAMBLE = r"\AVERSION 1\.0 CLASS\nBEGIN\n.*?\nEND\n"


def stream_form(name: str, source: str) -> str:
    """A .cls file as a module stream holds it: no export preamble, the class VB_Base."""
    if not re.match(EXPORT_PREAMBLE, source):
        return source
    body = re.sub(EXPORT_PREAMBLE, "", source, flags=re.S)
    first, rest = body.split("\n", 1)
    assert first == f'Attribute VB_Name = "{name}"', first
    return first + "\n" + CLASS_BASE + rest


def olevba_project(path: Path):
    """oletools' own parse of the project: its modules with MODULEOFFSET and source."""
    import zipfile

    import olefile
    from oletools.olevba import VBA_Project

    with zipfile.ZipFile(path) as zf:
        ole = olefile.OleFileIO(zf.read("xl/vbaProject.bin"))
    project = VBA_Project(ole, "", "PROJECT", "VBA/dir", relaxed=False)
    project.parse_project_stream()
    list(project.parse_modules())
    return ole, project


def test_modules_read_back_with_olevba_equal_the_sources(built_template):
    """Every module olevba finds is one of ours, equal to its file but for line endings, or
    a document module (workbook, sheet) holding nothing but its attribute header."""
    parser = VBA_Parser(str(built_template))
    try:
        found = {Path(name).stem: code.replace("\r\n", "\n")
                 for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()
    ours = {name: stream_form(name, source) for name, source in sources().items()}
    assert {name: found.get(name) for name in ours} == ours
    documents = set(found) - set(ours)
    sheets = len(openpyxl.load_workbook(built_template, read_only=True).sheetnames)
    assert documents == {"ThisWorkbook"} | {f"Sheet{n}" for n in range(1, sheets + 1)}
    for name in documents:
        lines = found[name].splitlines()
        assert lines[0] == f'Attribute VB_Name = "{name}"', name
        assert all(ln.startswith("Attribute VB_") for ln in lines), name


def test_vba_project_stream_is_the_standard_form_without_a_cache(built_template):
    """[MS-OVBA] 2.3.4.1: Reserved1 0x61CC, Version 0xFFFF on write (no cache of any
    Office build applies), Reserved2 0x00, Reserved3, and no PerformanceCache."""
    ole, _ = olevba_project(built_template)
    assert ole.openstream("VBA/_VBA_PROJECT").read() == b"\xcc\x61\xff\xff\x00\x00\x00"


def test_every_module_stream_is_its_compressed_source_alone(built_template):
    """[MS-OVBA] 2.3.4.3: a module stream's PerformanceCache (compiled code) MUST NOT be
    present on write, so MODULEOFFSET is 0 and the whole stream is the CompressedSourceCode:
    nothing compiled can disagree with the source."""
    from oletools.olevba import decompress_stream

    ole, project = olevba_project(built_template)
    offsets = {m.name: m.textoffset for m in project.modules}
    sheets = len(openpyxl.load_workbook(built_template, read_only=True).sheetnames)
    # our modules, ThisWorkbook and one document module per sheet
    assert len(offsets) == len(sources()) + 1 + sheets and set(offsets.values()) == {0}, offsets
    for module in project.modules:
        stream = ole.openstream(f"VBA/{module.streamname}").read()
        assert stream[0] == 0x01, module.name  # CompressedContainer SignatureByte
        assert decompress_stream(bytearray(stream)) == module.code_raw, module.name


def without_directive_comments(source: str) -> str:
    """Drop a trailing ' comment from #Const/#If lines (see test below for why)."""
    return re.sub(r"(?m)^([ \t]*#[^'\r\n]*?)[ \t]*'[^\r\n]*", r"\1", source)


def compile_vba(source: str, name: str, kind: str, constants: dict) -> int:
    """pyOpenVBA's compile front end (preprocess + parse) for one platform; procedures."""
    prepared = _preprocess.strip_directives(source, module=name, constants=constants)
    parser = _parse.Parser(tokenize(prepared, module=name), module=name, kind=kind)
    return len(parser.parse_module(source).procedures)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_our_modules_compile_in_pyopenvba_as_written(platform):
    for name in ("Cinta", "Funciones"):
        count = compile_vba(read(VBA_DIR / f"{name}.bas"), name, "standard", PLATFORMS[platform])
        assert count == len(procedures(read(VBA_DIR / f"{name}.bas")))


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_xlwings_modules_compile_in_pyopenvba_after_removing_directive_comments(platform):
    """pyOpenVBA 6.5.0 cannot read a comment after a directive (valid VBA), and
    xlwings.bas has two: `#Const App = "Microsoft Excel" 'Adjust when...` (line 2) and
    `#If Mac Then ' Application.PathSeparator...` (line 613). Without those two comments
    the whole module compiles on every platform; Dictionary.cls compiles once its
    VERSION/BEGIN export header is taken off, as pyOpenVBA does when it stores it."""
    xlwings_bas = read(VBA_DIR / "xlwings.bas")
    with pytest.raises(_preprocess.VBACompileError, match="line 2: cannot read the directive"):
        compile_vba(xlwings_bas, "xlwings", "standard", PLATFORMS[platform])
    assert compile_vba(without_directive_comments(xlwings_bas), "xlwings", "standard",
                       PLATFORMS[platform]) == 44
    dictionary = re.sub(r"\AVERSION 1\.0 CLASS\nBEGIN\n.*?\nEND\n", "",
                        read(VBA_DIR / "Dictionary.cls"), flags=re.S)
    mac_only = 8 if platform == "Mac" else 0  # the pure-VBA dictionary used on the Mac
    assert compile_vba(dictionary, "Dictionary", "class", PLATFORMS[platform]) == 15 + mac_only


def test_built_template_modules_compile_in_pyopenvba(built_template):
    from pyopenvba import ExcelFile

    with ExcelFile(built_template) as wb:
        modules = wb.vba_modules()
    for name in ("Cinta", "Funciones"):
        assert compile_vba(modules[name], name, "standard", {}) > 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] == ["--write"]:
        (VBA_DIR / "Funciones.bas").write_bytes(generate_funciones().replace("\n", "\r\n")
                                                 .encode("utf-8"))
        print(f"wrote {VBA_DIR / 'Funciones.bas'}")
