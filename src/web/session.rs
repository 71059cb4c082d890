//! What mama keeps in the (encrypted, signed) session cookie: the session token
//! whose hash names the server-side session row, the CSRF token, flash messages.
use actix_session::Session;

use super::Flash;
use crate::crypto::random_token;

const SID: &str = "sid";
const CSRF: &str = "csrf";
const FLASH: &str = "flash";

/// The CSRF token of this browser session, created on first use.
pub fn csrf_token(session: &Session) -> String {
    match session.get::<String>(CSRF) {
        Ok(Some(t)) => t,
        _ => {
            let t = random_token();
            let _ = session.insert(CSRF, &t);
            t
        }
    }
}

pub fn expected_csrf(session: &Session) -> Option<String> {
    session.get::<String>(CSRF).ok().flatten()
}

pub fn sid(session: &Session) -> Option<String> {
    session.get::<String>(SID).ok().flatten()
}

/// Starts a logged-in session: a fresh cookie, a fresh token and CSRF token.
pub fn start(session: &Session, sid: &str) {
    // Not `purge()`: a purged session ignores every later insert.
    session.clear();
    session.renew();
    let _ = session.insert(SID, sid);
    let _ = session.insert(CSRF, random_token());
}

/// Swaps the session token of a logged-in session (after a password change),
/// keeping its CSRF token and flashes so open forms still work.
pub fn replace_sid(session: &Session, sid: &str) {
    session.renew();
    let _ = session.insert(SID, sid);
}

/// Forgets the login but keeps the cookie for a flash message.
pub fn end(session: &Session) {
    session.remove(SID);
    let _ = session.insert(CSRF, random_token());
}

/// The longest flash text kept in the cookie (which holds about 4 KB in all);
/// longer results belong on a page.
pub const FLASH_MAX_CHARS: usize = 400;
/// Flashes kept at once (the oldest go first).
const FLASH_MAX_COUNT: usize = 3;

pub fn push_flash(session: &Session, mut flash: Flash) {
    // The cookie holds the message's key and arguments: user data in the arguments
    // is what can grow, so each text argument is cut to its share of the bound.
    let texts = flash
        .msg
        .args
        .iter()
        .filter(|(_, a)| matches!(a, crate::i18n::Arg::Text(_)))
        .count()
        .max(1);
    let share = FLASH_MAX_CHARS / texts;
    for (_, a) in flash.msg.args.iter_mut() {
        if let crate::i18n::Arg::Text(t) = a
            && t.chars().count() > share
        {
            *t = t.chars().take(share.saturating_sub(1)).collect::<String>() + "…";
        }
    }
    let mut all: Vec<Flash> = session.get(FLASH).ok().flatten().unwrap_or_default();
    all.push(flash);
    if all.len() > FLASH_MAX_COUNT {
        all.drain(..all.len() - FLASH_MAX_COUNT);
    }
    let _ = session.insert(FLASH, all);
}

pub fn take_flashes(session: &Session) -> Vec<Flash> {
    let all: Vec<Flash> = session.get(FLASH).ok().flatten().unwrap_or_default();
    if !all.is_empty() {
        session.remove(FLASH);
    }
    all
}
