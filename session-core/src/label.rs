//! The label a new session is listed under on `/devices`: [`device_label`], a short
//! summary of the request's `User-Agent` ("Firefox on Linux"). The cases every host must
//! agree on are in `session-core/tests/device-labels.json`.

/// Browsers by the token that names them, most specific first (Edge and Opera also say
/// Chrome; Chrome also says Safari).
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
];

/// Systems by the token that names them, most specific first (Android says Linux, iOS
/// says Mac OS X).
const SYSTEMS: &[(&str, &str)] = &[
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
];

/// The longest product name taken from an unknown agent, in characters.
const MAX_PRODUCT_CHARS: usize = 32;

/// "BROWSER on SYSTEM", "BROWSER", or none when the agent names nothing: a known browser,
/// else the agent's first product name (letters, digits, `.`, `_`, `-` only, at most 32).
/// Always valid as a store label (well under 128 bytes, no control characters).
pub fn device_label(user_agent: &str) -> Option<String> {
    let browser = BROWSERS
        .iter()
        .find(|(token, _)| user_agent.contains(token))
        .map(|(_, name)| (*name).to_owned())
        .or_else(|| product(user_agent))?;
    Some(match SYSTEMS.iter().find(|(token, _)| user_agent.contains(token)) {
        Some((_, system)) => format!("{browser} on {system}"),
        None => browser,
    })
}

/// The first product name of an agent (`curl` of `curl/8.11.0`), reduced to safe
/// characters; none if nothing is left.
fn product(user_agent: &str) -> Option<String> {
    let first = user_agent.trim().split(['/', ' ']).next()?;
    let name: String = first
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(MAX_PRODUCT_CHARS)
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shared_case_gets_its_label() {
        let cases: serde_json::Value =
            serde_json::from_str(include_str!("../tests/device-labels.json")).expect("json");
        let cases = cases["cases"].as_array().expect("cases");
        assert!(cases.len() >= 10);
        for case in cases {
            let agent = case[0].as_str().expect("agent");
            assert_eq!(device_label(agent).as_deref(), case[1].as_str(), "{agent:?}");
        }
    }
}
