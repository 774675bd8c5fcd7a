Attribute VB_Name = "Inicio"
' Runs when the workbook opens with macros enabled: the cut-off date of the Facturas
' formula columns (the named cell FechaCorte on Configuracion) becomes today, so the
' one CALCULO_FACTURAS call recalculates once with the current date.
Option Explicit

Sub Auto_Open()
    On Error Resume Next
    ThisWorkbook.Names("FechaCorte").RefersToRange.Value = Date
End Sub
