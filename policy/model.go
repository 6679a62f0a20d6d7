package policy

import (
	_ "embed"
	"fmt"

	"github.com/casbin/casbin/v2/model"
)

// modelText is the Casbin model. See the package documentation for what each
// part means; in short:
//
//   - a request is (sub, obj, act, purpose, env): sub is "user:NAME", obj is
//     "VIEW.FIELD" (or "*" / "VIEW.*" for Check), act an Action;
//   - a rule is (sub, obj, act, purpose, env, eft): sub is a role, obj is
//     "VIEW.FIELD", "VIEW.*", "tag:TAG" or "*", purpose and env a name or
//     "*", eft allow or deny;
//   - g links principals to roles and roles to the roles they inherit;
//   - g2 links each column "VIEW.FIELD" to "VIEW.*" and to "tag:TAG" for
//     each of its tags (SyncView writes these links);
//   - a request is allowed when some allow rule matches and no deny rule
//     does: deny by default, deny overrides allow.
//
// The matcher compares strings and walks the two role graphs, nothing else:
// no eval(), no keyMatch or regexMatch, so a rule means exactly its tuple
// and decisions depend only on the request strings (they are cacheable).
//
//go:embed model.conf
var modelText string

// ModelText returns the Casbin model text the engine enforces, for
// documentation and `policy explain` output.
func ModelText() string { return modelText }

func newModel() (model.Model, error) {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("policy: parse the built-in Casbin model: %w", err)
	}
	return m, nil
}

// Policy types, as Casbin names them.
const (
	ptypeRule  = "p"  // p, role, object, action, purpose, env, allow|deny
	ptypeRole  = "g"  // g, user:NAME|role, role
	ptypeGroup = "g2" // g2, VIEW.FIELD, VIEW.*|tag:TAG
)

const (
	eftAllow = "allow"
	eftDeny  = "deny"
)
