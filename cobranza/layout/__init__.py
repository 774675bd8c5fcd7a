"""Output sheets as data (Alertas, Tablero, Agenda, Cartera, Errores, Envíos,
Vista previa)."""
