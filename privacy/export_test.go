package privacy

import "math/big"

// Test-only access to internals. Nothing here is reachable from production
// code: a server cannot turn noise off.

// WithoutNoise makes Aggregate add no noise (grid rounding still applies),
// so that tests can check its arithmetic exactly.
func (o Options) WithoutNoise() Options { o.noNoise = true; return o }

// BernoulliExpBig, DiscreteLaplaceBig and DiscreteGaussianBig run the
// math/big paths, whatever the size of the parameters.
func (s *Sampler) BernoulliExpBig(gamma *big.Rat) (bool, error) {
	return s.bernoulliExpBig(gamma.Num(), gamma.Denom())
}

func (s *Sampler) DiscreteLaplaceBig(scale *big.Rat) (*big.Int, error) {
	return s.discreteLaplaceBig(scale.Num(), scale.Denom())
}

func (s *Sampler) DiscreteGaussianBig(sigma2 *big.Rat) (*big.Int, error) {
	return s.discreteGaussianBig(sigma2.Num(), sigma2.Denom())
}

// LedgerKey is the store key of a budget.
func (l *Ledger) LedgerKey(principal, view string) ([]byte, error) { return l.key(principal, view) }
