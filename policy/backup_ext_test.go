package policy_test

import (
	"errors"
	"testing"

	"github.com/featurevault/featurevault/policy"
)

// TestBackupIsItsOwnActionOnTheWholeStore checks that backup and admin do
// not imply each other, that a deny beats a backup allow, and that backup
// can be given on "*" only.
func TestBackupIsItsOwnActionOnTheWholeStore(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	mustGrant(t, e,
		policy.Rule{Role: "ops", Action: policy.ActionAdmin, Object: "*"},
		policy.Rule{Role: "backup_job", Action: policy.ActionBackup, Object: "*"},
		policy.Rule{Role: "backup_job", Action: policy.ActionBackup, Object: "*", Env: "staging", Deny: true},
	)
	ops, _ := mustCreate(t, e, "olga", []string{"ops"}, nil)
	job, _ := mustCreate(t, e, "nightly", []string{"backup_job"}, nil)
	tests := []struct {
		name     string
		p        policy.Principal
		action   policy.Action
		env      string
		want     bool
		wantRule string
	}{
		{"backup job may back up", job, policy.ActionBackup, "prod", true, "p, backup_job, *, backup, *, *, allow"},
		{"backup job is no admin", job, policy.ActionAdmin, "prod", false, policy.RuleDefaultDeny},
		{"admin may not back up without the grant", ops, policy.ActionBackup, "prod", false, policy.RuleDefaultDeny},
		{"deny beats the backup allow", job, policy.ActionBackup, "staging", false, "p, backup_job, *, backup, *, staging, deny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := e.Check(tt.p, "*", tt.action, "administration", tt.env)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if v.Allowed != tt.want || v.Rule != tt.wantRule {
				t.Errorf("Check(%s, *, %s, env %s) = %v by %q; want %v by %q", tt.p.Name, tt.action, tt.env, v.Allowed, v.Rule, tt.want, tt.wantRule)
			}
		})
	}
	before := len(e.ListRules())
	for _, object := range []string{"customer_profile.*", "customer_profile.email", "tag:pii"} {
		err := e.Grant(policy.Rule{Role: "backup_job", Action: policy.ActionBackup, Object: object})
		if !errors.Is(err, policy.ErrInvalidAction) {
			t.Errorf("Grant(backup on %s) = %v; want ErrInvalidAction (backup is given on * only)", object, err)
		}
	}
	if got := len(e.ListRules()); got != before {
		t.Errorf("refused grants changed the rules: %d rules, want %d", got, before)
	}
	if a, err := policy.ParseAction("backup"); err != nil || a != policy.ActionBackup {
		t.Errorf(`ParseAction("backup") = %q, %v; want ActionBackup`, a, err)
	}
}
