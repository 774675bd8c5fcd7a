Attribute VB_Name = "Cinta"
' Ribbon callbacks of the Cobranza tab (addin/customUI.xml).
' Each one runs the Python handler of the same name in addin/ribbon.py through
' RunPython, which lives in the xlwings module of this workbook (standalone mode).
Option Explicit

Sub VistaPrevia(control As IRibbonControl)
    RunPython "import addin.ribbon; addin.ribbon.vista_previa()"
End Sub

Sub EnviarRecordatorios(control As IRibbonControl)
    RunPython "import addin.ribbon; addin.ribbon.enviar_recordatorios()"
End Sub

Sub RegistrarGestion(control As IRibbonControl)
    RunPython "import addin.ribbon; addin.ribbon.registrar_gestion()"
End Sub

Sub ActualizarAlertas(control As IRibbonControl)
    RunPython "import addin.ribbon; addin.ribbon.actualizar_alertas()"
End Sub

Sub EstadoDeCuenta(control As IRibbonControl)
    RunPython "import addin.ribbon; addin.ribbon.estado_de_cuenta()"
End Sub

Sub EntregarATerceros(control As IRibbonControl)
    RunPython "import addin.ribbon; addin.ribbon.entregar_a_terceros()"
End Sub

Sub Validar(control As IRibbonControl)
    RunPython "import addin.ribbon; addin.ribbon.validar()"
End Sub
