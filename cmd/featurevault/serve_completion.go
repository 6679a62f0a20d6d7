package main

import (
	"github.com/spf13/cobra"
)

// registerServeCompletions tells shell completion (featurevault
// completion bash|zsh|fish|powershell) what serve's flags take: the
// fixed choices of --log-format, --log-level and --env, PEM files for
// the TLS flags, YAML for --config, a directory for --data. A flag that
// is not defined is skipped, so the list can name flags other files add.
func registerServeCompletions(cmd *cobra.Command) {
	choices := map[string][]string{
		"log-format": {"text", "json"},
		"log-level":  {"debug", "info", "warn", "error"},
		"env":        {"prod", "staging", "dev"},
	}
	for name, values := range choices {
		if cmd.Flags().Lookup(name) != nil {
			_ = cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
		}
	}
	files := map[string][]string{
		"tls-cert":      {"pem", "crt"},
		"tls-key":       {"pem", "key"},
		"tls-client-ca": {"pem", "crt"},
		"config":        {"yaml", "yml"},
	}
	for name, exts := range files {
		if cmd.Flags().Lookup(name) != nil {
			_ = cmd.MarkFlagFilename(name, exts...)
		}
	}
	if cmd.Flags().Lookup("data") != nil {
		_ = cmd.MarkFlagDirname("data")
	}
}
