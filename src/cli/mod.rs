//! Subcommands of the forge-manager binary.
