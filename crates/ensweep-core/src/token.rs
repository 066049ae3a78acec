//! Bearer tokens for the coordinator's two roles.
//!
//! A token is a secret: its `Debug` and `Display` never show it, so a config or an error that
//! holds one can be logged safely. Comparison is constant-time so the time a refusal takes does
//! not tell an attacker how many leading bytes were right. Reading tokens from files and the
//! environment happens in the binary; this module only validates the text it is handed.

use subtle::ConstantTimeEq;

/// Shortest accepted token: 16 bytes (a guessable token is no credential).
pub const MIN_TOKEN_LEN: usize = 16;

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Empty after trimming surrounding whitespace.
    #[error("the token is empty")]
    Empty,
    /// Fewer than [`MIN_TOKEN_LEN`] bytes.
    #[error("the token is {0} bytes long; at least {MIN_TOKEN_LEN} are required")]
    TooShort(usize),
    /// Not a valid HTTP header value (control characters or non-visible ASCII).
    #[error("the token may only hold visible ASCII characters")]
    NotAscii,
}

/// A validated bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Validates `secret` (surrounding whitespace, such as a file's final newline, is dropped).
    pub fn new(secret: &str) -> Result<Self, TokenError> {
        let t = secret.trim();
        if t.is_empty() {
            return Err(TokenError::Empty);
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotAscii);
        }
        if t.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort(t.len()));
        }
        Ok(Self(t.to_owned()))
    }

    /// The secret, for the one place that must send it (the `authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented secret.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_and_redaction() {
        assert_eq!(Token::new(" \n"), Err(TokenError::Empty));
        assert_eq!(Token::new("short"), Err(TokenError::TooShort(5)));
        assert_eq!(
            Token::new("0123456789abcdef\u{7}"),
            Err(TokenError::NotAscii)
        );
        let t = Token::new("0123456789abcdef\n").expect("valid");
        assert_eq!(t.expose(), "0123456789abcdef");
        assert!(t.matches(b"0123456789abcdef"));
        assert!(!t.matches(b"0123456789abcdeF"));
        assert!(!t.matches(b"0123456789abcdef0"));
        assert!(!format!("{t:?}").contains("0123"));
    }
}
