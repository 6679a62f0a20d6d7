// Package privacy answers aggregate queries over a column with differential
// privacy, and keeps each principal's privacy budget.
//
// # The guarantee
//
// The privacy unit is the subject (the entity a row describes). For any
// two datasets that differ in all the rows of one subject, a released
// aggregate has nearly the same distribution: with delta = 0, no outcome is
// more than e^ε times as likely under one as under the other (ε-DP); with
// delta > 0, that holds except for an event of probability at most δ
// ((ε, δ)-DP). δ is not a per-subject probability: it is a small chance,
// over the whole release, that the ε bound fails; choose it far below
// 1/(number of subjects), such as 1e-9.
//
// What makes a subject's influence bounded:
//
//   - Contribution bounding: at most MaxContributions (N) rows of a subject
//     are used; the rest are ignored.
//   - Clamping: values are clamped to declared bounds [lo, hi]; NaN values
//     are dropped. Bounds must be chosen without looking at the data.
//   - Noise calibrated to the resulting sensitivity (see Aggregate's
//     table), from the discrete Laplace mechanism (delta = 0) or the
//     discrete Gaussian mechanism (delta > 0; ρ-zCDP converted to (ε, δ)-DP,
//     see IntegerMechanism). A mean spends half of ε (and δ) on a noisy
//     sum and half on a noisy count.
//
// Across queries, the Ledger composes sequentially: a principal who
// receives releases with (ε₁, δ₁), …, (εₖ, δₖ) has learnt at most
// (Σεᵢ, Σδᵢ) about any subject, and a charge that would exceed the
// principal's total is refused before anything is computed. With
// PerPrincipalView the total holds per view only. Amounts are kept in fixed
// point (ε in 1e-6, δ in 1e-18): a query is calibrated to its ε and δ
// rounded down and charged exactly that; a raw charge is rounded up; so no
// sequence of queries can spend more than it is charged.
//
// Not protected: which views, columns, functions, bounds and buckets exist
// and are queried; when queries run and how long they take (which grows
// with the number of rows, and, for the rejection samplers, varies a
// little with the noise drawn: do not expose precise per-query timings);
// whether a query failed; anything a principal
// may read directly; and collusion between principals, each of whom has
// their own budget. The bounds and buckets are public: they must not be
// derived from the data. Everything about the rows themselves, their
// number included, is released only through the noisy aggregates.
//
// # Exact noise, never floating-point Laplace
//
// The textbook Laplace mechanism computed with floating point (inverse CDF
// of a double, such as -b·log(u)) is not differentially private: the set of
// doubles the noisy value can take depends on the true value, so an
// observer can tell neighbouring inputs apart from the low-order bits
// (Mironov 2012, "On significance of the least significant bits for
// differential privacy"). Instead, every sampler here is exact: it uses
// uniform random integers and rational arithmetic only, and returns
// integers distributed exactly as specified (Canonne, Kamath and Steinke
// 2020, "The Discrete Gaussian for Differential Privacy", Algorithms 1–3 as
// OpenDP implements them):
//
//   - Sampler.BernoulliExp: Bernoulli(exp(-γ)) for rational γ ≥ 0;
//   - Sampler.DiscreteLaplace: P[x] ∝ exp(-|x|/t) for rational t;
//   - Sampler.DiscreteGaussian: P[x] ∝ exp(-x²/(2σ²)) for rational σ².
//
// Parameters that fit use uint64 arithmetic (with overflow checks that
// continue in math/big from the same random bytes); others use math/big
// throughout. Randomness comes from crypto/rand unless a test injects a
// seeded stream.
//
// Real values (sums) are released on a grid of step 2^k (RealMechanism): k
// is chosen from the sensitivity, the true value is rounded to the grid,
// integer noise is added with the sensitivity in grid units widened by one
// step, and the result is scaled back, so every output is a multiple of 2^k.
// The true sum itself is computed exactly in fixed point, not with
// floating-point additions (whose rounding can exceed the assumed
// sensitivity).
//
// # Using it
//
// A server answers a query in this order: validate the query and get its
// cost (Query.Cost), charge the ledger (Ledger.Charge, atomic; refused when
// over budget), compute (Aggregate over a Feed of decrypted values), and
// release the Result together with Charge.Account().Remaining — or, if
// Aggregate failed before anything was released, Charge.Refund.
package privacy
