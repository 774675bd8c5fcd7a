"""Rules on invoices: balance, days overdue, status (Saldo, Estatus), alerts, agenda, KPIs."""
