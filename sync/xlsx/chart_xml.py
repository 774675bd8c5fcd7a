"""DrawingML for the output sheets' native charts: the drawing part and one chart part
per `BarChart`, over the table's own cells, with cached values."""

from __future__ import annotations

import numbers
from typing import Any

from cobranza.layout.sheets import BarChart, Table
from sync.xlsx.package import NS_R
from sync.xlsx.sheet_xml import escape, is_missing, quoteattr, ref, text

_NS_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_NS_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"


def drawing_xml(anchors: list[tuple[BarChart, str]]) -> bytes:
    """A drawing with one chart frame per (chart, relationship id), at its anchor cell."""
    frames = []
    for n, (chart, rel_id) in enumerate(anchors, start=1):
        row, col = chart.anchor[0] - 1, chart.anchor[1] - 1  # drawingML is 0-based
        frames.append(
            f"<xdr:twoCellAnchor>{_marker('from', row, col)}"
            f"{_marker('to', row + chart.size[0], col + chart.size[1])}"
            f'<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr>'
            f'<xdr:cNvPr id="{n + 1}" name={quoteattr("Gráfico " + str(n))}/>'
            "<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr>"
            '<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
            f'<a:graphic><a:graphicData uri="{_NS_C}">'
            f'<c:chart xmlns:c="{_NS_C}" xmlns:r="{NS_R}" r:id="{rel_id}"/>'
            "</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/>"
            "</xdr:twoCellAnchor>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<xdr:wsDr xmlns:xdr="{_NS_XDR}" xmlns:a="{_NS_A}">{"".join(frames)}</xdr:wsDr>'
    ).encode()


def _marker(tag: str, row: int, col: int) -> str:
    return (f"<xdr:{tag}><xdr:col>{col}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:{tag}>")


def _quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _column_range(sheet_name: str, table: Table, column: str) -> tuple[str, list[Any]]:
    """Absolute range of a table column's body and its values (one empty row if none)."""
    index = table.columns.index(column)
    col, first = table.col + index, table.row + 1
    last = table.row + max(len(table.rows), 1)
    area = f"{_quote_sheet(sheet_name)}!{ref(first, col, True)}:{ref(last, col, True)}"
    return area, [row[index] for row in table.rows]


def _str_ref(formula: str, values: list[Any]) -> str:
    points = "".join(f'<c:pt idx="{i}"><c:v>{text(str(v))}</c:v></c:pt>'
                     for i, v in enumerate(values) if not is_missing(v))
    return (f"<c:strRef><c:f>{escape(formula)}</c:f><c:strCache>"
            f'<c:ptCount val="{len(values)}"/>{points}</c:strCache></c:strRef>')


def _num_ref(formula: str, values: list[Any]) -> str:
    points = "".join(f'<c:pt idx="{i}"><c:v>{float(v)!r}</c:v></c:pt>'
                     for i, v in enumerate(values)
                     if isinstance(v, numbers.Number) and not is_missing(v))
    return (f"<c:numRef><c:f>{escape(formula)}</c:f><c:numCache>"
            f'<c:formatCode>General</c:formatCode><c:ptCount val="{len(values)}"/>'
            f"{points}</c:numCache></c:numRef>")


def _series(sheet_name: str, table: Table, chart: BarChart) -> str:
    categories, labels = _column_range(sheet_name, table, chart.category)
    out = []
    for i, column in enumerate(chart.series):
        values_ref, values = _column_range(sheet_name, table, column)
        col = table.col + table.columns.index(column)
        name_ref = f"{_quote_sheet(sheet_name)}!{ref(table.row, col, True)}"
        out.append(
            f'<c:ser><c:idx val="{i}"/><c:order val="{i}"/>'
            f"<c:tx>{_str_ref(name_ref, [column])}</c:tx>"
            '<c:invertIfNegative val="0"/>'
            f"<c:cat>{_str_ref(categories, labels)}</c:cat>"
            f"<c:val>{_num_ref(values_ref, values)}</c:val></c:ser>"
        )
    return "".join(out)


def _legend(chart: BarChart) -> str:
    """A legend only to tell several series apart (one series: the title names it)."""
    if len(chart.series) < 2:
        return ""
    return '<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend>'


def chart_xml(chart: BarChart, table: Table, sheet_name: str) -> bytes:
    """A native clustered column chart over the table's cells, with cached values."""
    title = (f"<c:title><c:tx><c:rich><a:bodyPr/><a:p><a:r><a:t>{text(chart.title)}</a:t>"
             '</a:r></a:p></c:rich></c:tx><c:overlay val="0"/></c:title>')
    axes = (
        '<c:catAx><c:axId val="1"/><c:scaling><c:orientation val="minMax"/></c:scaling>'
        '<c:delete val="0"/><c:axPos val="b"/><c:numFmt formatCode="General" sourceLinked="0"/>'
        '<c:tickLblPos val="nextTo"/><c:crossAx val="2"/><c:crosses val="autoZero"/>'
        '<c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/></c:catAx>'
        '<c:valAx><c:axId val="2"/><c:scaling><c:orientation val="minMax"/></c:scaling>'
        '<c:delete val="0"/><c:axPos val="l"/><c:majorGridlines/>'
        '<c:numFmt formatCode="#,##0" sourceLinked="0"/><c:tickLblPos val="nextTo"/>'
        '<c:crossAx val="1"/><c:crosses val="autoZero"/><c:crossBetween val="between"/>'
        "</c:valAx>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<c:chartSpace xmlns:c="{_NS_C}" xmlns:a="{_NS_A}" xmlns:r="{NS_R}">'
        f'<c:roundedCorners val="0"/><c:chart>{title}<c:autoTitleDeleted val="0"/>'
        '<c:plotArea><c:layout/><c:barChart><c:barDir val="col"/>'
        '<c:grouping val="clustered"/><c:varyColors val="0"/>'
        f'{_series(sheet_name, table, chart)}<c:gapWidth val="150"/>'
        f'<c:axId val="1"/><c:axId val="2"/></c:barChart>{axes}</c:plotArea>'
        f"{_legend(chart)}"
        '<c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>'
    ).encode()
