//! The site side of a login, sans-IO: the rules a site applies to what
//! LIME sends it. Today: passport verification ([`verify_passport`]).

mod passport;

pub use passport::{
    Expected, KeySet, MAX_PASSPORT_LIFETIME_SECS, MAX_TOKEN_BYTES, PASSPORT_AUDIENCE,
    PassportRefused, SignatureCheck, VerifiedPassport, verify_passport,
};
