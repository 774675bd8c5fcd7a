"""The unattended service (`cobranza run`) and its status file."""
