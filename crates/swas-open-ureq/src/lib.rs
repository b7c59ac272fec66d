//! ureq
