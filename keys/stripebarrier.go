package keys

// awaitStripes takes and releases every stripe lock, in order: a barrier
// that guards nothing but waits out every holder. Call it with k.life held,
// after the last rotation: a subject key is wrapped (created, or rewritten
// by a subject rotation) under its stripe's lock, with the KEK version that
// was primary at that moment, and stored before the lock is released. A
// wrap that began before the rotation's setKEK therefore holds a stripe
// lock when awaitStripes starts, and has landed in the keystore when it
// returns; every later wrap uses the new primary. So a census or a walk of
// subject keys that starts after awaitStripes sees every key still wrapped
// by an older version.
//
// Service keysets (NamedKeyset) are not created under stripe locks: a
// rewrap's closing census catches the rare one wrapped under an older
// version while it ran (see Rewrap).
func (k *Keyring) awaitStripes() {
	for i := range k.locks {
		k.locks[i].mu.Lock()
		//lint:ignore SA2001 an intentional barrier: waits out holders, guards nothing
		k.locks[i].mu.Unlock()
	}
}
