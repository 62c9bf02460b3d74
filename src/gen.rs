//! Deterministic generator of realistic session documents (being built).
