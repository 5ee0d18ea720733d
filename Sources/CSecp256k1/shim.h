/* The system libsecp256k1 (Debian libsecp256k1-dev) for WardenPolymarket: ECDSA signing with recovery (v), the
   public key, and signature recovery (the fake exchange checks who signed an order). */
#include <secp256k1.h>
#include <secp256k1_recovery.h>

/* The flag macros are not imported into Swift: a context that can sign and verify. */
static inline secp256k1_context *warden_secp256k1_context_create(void) {
    return secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
}
static inline unsigned int warden_secp256k1_uncompressed(void) { return SECP256K1_EC_UNCOMPRESSED; }
