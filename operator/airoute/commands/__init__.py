"""The user-facing ``airoute`` subcommands that read or annotate routes (validate, inventory, …)."""
