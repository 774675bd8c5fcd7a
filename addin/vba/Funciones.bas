Attribute VB_Name = "Funciones"
' Excel wrappers of the Python UDFs in addin/udfs.py, written by xlwings' own
' generate_vba_wrapper from their @xw.func metadata. Do not edit: regenerate with
'     python tests/test_vba.py --write
' (the comment is not on the #Const line: pyOpenVBA's preprocessor rejects that).
#Const App = "Microsoft Excel"
Function CALCULO_FACTURAS(factura, vencimiento, Optional fecha_corte, Optional clientes, Optional pagos, Optional gestiones, Optional parametros, Optional avisos, Optional convenios)
    #If App = "Microsoft Excel" Then
        If TypeOf Application.Caller Is Range Then On Error GoTo failed
        CALCULO_FACTURAS = XLPy.CallUDF("addin.udfs", "CALCULO_FACTURAS", Array(Nothing, factura, vencimiento, fecha_corte, clientes, pagos, gestiones, parametros, avisos, convenios), ThisWorkbook, Application.Caller)
        Exit Function
    #Else
        CALCULO_FACTURAS = XLPy.CallUDF("addin.udfs", "CALCULO_FACTURAS", Array(Nothing, factura, vencimiento, fecha_corte, clientes, pagos, gestiones, parametros, avisos, convenios))
        Exit Function
    #End If
failed:
    CALCULO_FACTURAS = Err.Description
End Function

Function DIAS_VENCIDOS(vencimiento, Optional fecha_corte)
    #If App = "Microsoft Excel" Then
        If TypeOf Application.Caller Is Range Then On Error GoTo failed
        DIAS_VENCIDOS = XLPy.CallUDF("addin.udfs", "DIAS_VENCIDOS", Array(vencimiento, fecha_corte), ThisWorkbook, Application.Caller)
        Exit Function
    #Else
        DIAS_VENCIDOS = XLPy.CallUDF("addin.udfs", "DIAS_VENCIDOS", Array(vencimiento, fecha_corte))
        Exit Function
    #End If
failed:
    DIAS_VENCIDOS = Err.Description
End Function

Function ESTATUS_COBRO(factura, Optional fecha_corte)
    #If App = "Microsoft Excel" Then
        If TypeOf Application.Caller Is Range Then On Error GoTo failed
        ESTATUS_COBRO = XLPy.CallUDF("addin.udfs", "ESTATUS_COBRO", Array(Nothing, factura, fecha_corte), ThisWorkbook, Application.Caller)
        Exit Function
    #Else
        ESTATUS_COBRO = XLPy.CallUDF("addin.udfs", "ESTATUS_COBRO", Array(Nothing, factura, fecha_corte))
        Exit Function
    #End If
failed:
    ESTATUS_COBRO = Err.Description
End Function

Function PROXIMO_AVISO(factura, Optional fecha_corte)
    #If App = "Microsoft Excel" Then
        If TypeOf Application.Caller Is Range Then On Error GoTo failed
        PROXIMO_AVISO = XLPy.CallUDF("addin.udfs", "PROXIMO_AVISO", Array(Nothing, factura, fecha_corte), ThisWorkbook, Application.Caller)
        Exit Function
    #Else
        PROXIMO_AVISO = XLPy.CallUDF("addin.udfs", "PROXIMO_AVISO", Array(Nothing, factura, fecha_corte))
        Exit Function
    #End If
failed:
    PROXIMO_AVISO = Err.Description
End Function

Function SALDO(factura, Optional fecha_corte)
    #If App = "Microsoft Excel" Then
        If TypeOf Application.Caller Is Range Then On Error GoTo failed
        SALDO = XLPy.CallUDF("addin.udfs", "SALDO", Array(Nothing, factura, fecha_corte), ThisWorkbook, Application.Caller)
        Exit Function
    #Else
        SALDO = XLPy.CallUDF("addin.udfs", "SALDO", Array(Nothing, factura, fecha_corte))
        Exit Function
    #End If
failed:
    SALDO = Err.Description
End Function

Function TRAMO_MORA(vencimiento, Optional fecha_corte)
    #If App = "Microsoft Excel" Then
        If TypeOf Application.Caller Is Range Then On Error GoTo failed
        TRAMO_MORA = XLPy.CallUDF("addin.udfs", "TRAMO_MORA", Array(vencimiento, fecha_corte), ThisWorkbook, Application.Caller)
        Exit Function
    #Else
        TRAMO_MORA = XLPy.CallUDF("addin.udfs", "TRAMO_MORA", Array(vencimiento, fecha_corte))
        Exit Function
    #End If
failed:
    TRAMO_MORA = Err.Description
End Function

Function USO_CREDITO(cliente, Optional fecha_corte)
    #If App = "Microsoft Excel" Then
        If TypeOf Application.Caller Is Range Then On Error GoTo failed
        USO_CREDITO = XLPy.CallUDF("addin.udfs", "USO_CREDITO", Array(Nothing, cliente, fecha_corte), ThisWorkbook, Application.Caller)
        Exit Function
    #Else
        USO_CREDITO = XLPy.CallUDF("addin.udfs", "USO_CREDITO", Array(Nothing, cliente, fecha_corte))
        Exit Function
    #End If
failed:
    USO_CREDITO = Err.Description
End Function

