"""Output sheets as data (Alertas, Tablero, Agenda, Cartera, Riesgo, Errores, Envíos,
Vista previa)."""
