"""Output sheets as data (Alertas, Tablero, Agenda, Errores, Envíos, Vista previa)."""
