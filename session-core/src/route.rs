//! The routes every host serves and the methods each answers (the contract is in the crate
//! docs, "Methods"): reads answer GET and HEAD, the routes that end, rotate or log in a
//! session answer POST only, and `/put` answers GET and POST. A host asks
//! [`Route::of`] for the path (none: 404), then [`Route::check`] for the method (an error:
//! [`Failure::MethodNotAllowed`], 405 with `Allow`), before it loads anything.

use crate::answer::Failure;

/// A path every host serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `/put?message=TEXT`: replaces the demo message of the requester's own session.
    Put,
    /// `/get`: the demo message; `/get?key=K`: the value of `K`.
    Get,
    /// `/set?key=K&value=V`: stores one value, leaving the others.
    Set,
    /// `/renew`: moves the session to a new token.
    Renew,
    /// `/destroy`: ends the session.
    Destroy,
    /// `/login?user=NAME`: logs the session in (rotating it).
    Login,
    /// `/devices`: the logged-in user's sessions.
    Devices,
    /// `/logout-everywhere`: ends the logged-in user's other sessions.
    LogoutEverywhere,
}

/// The methods of a read: safe, nothing changes but the store's record of the read.
const READ: &[&str] = &["GET", "HEAD"];
/// The methods of a route that sets a chosen value, ends, rotates or logs in a session: a
/// link or an image on another site (a cross-site GET, which carries a `SameSite=Lax`
/// cookie) cannot reach it.
const CHANGE: &[&str] = &["POST"];
/// `/put`'s methods: GET is kept for the demo and the benchmark (see the crate docs).
const PUT: &[&str] = &["GET", "POST"];

impl Route {
    /// Every route, in the order the 404 answer names them.
    pub const ALL: [Route; 8] = [
        Route::Put,
        Route::Get,
        Route::Set,
        Route::Renew,
        Route::Destroy,
        Route::Login,
        Route::Devices,
        Route::LogoutEverywhere,
    ];

    /// The route served at `path` (the path only, without the query), or none: 404.
    pub fn of(path: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|route| route.path() == path)
    }

    /// The route's path.
    pub fn path(self) -> &'static str {
        match self {
            Route::Put => "/put",
            Route::Get => "/get",
            Route::Set => "/set",
            Route::Renew => "/renew",
            Route::Destroy => "/destroy",
            Route::Login => "/login",
            Route::Devices => "/devices",
            Route::LogoutEverywhere => "/logout-everywhere",
        }
    }

    /// The methods the route answers, as HTTP spells them (upper case).
    pub fn methods(self) -> &'static [&'static str] {
        match self {
            Route::Get | Route::Devices => READ,
            Route::Set | Route::Renew | Route::Destroy | Route::Login | Route::LogoutEverywhere => {
                CHANGE
            }
            Route::Put => PUT,
        }
    }

    /// Whether the route answers `method`. Methods are case-sensitive (RFC 9110): `get` is
    /// not GET.
    pub fn allows(self, method: &str) -> bool {
        self.methods().contains(&method)
    }

    /// The `Allow` header of a 405: the methods, comma-separated (`POST`, `GET, HEAD`).
    pub fn allow(self) -> &'static str {
        match self {
            Route::Get | Route::Devices => "GET, HEAD",
            Route::Set | Route::Renew | Route::Destroy | Route::Login | Route::LogoutEverywhere => {
                "POST"
            }
            Route::Put => "GET, POST",
        }
    }

    /// Ok when the route answers `method`; else the 405 to send before anything is loaded.
    pub fn check(self, method: &str) -> Result<(), Failure> {
        if self.allows(method) {
            Ok(())
        } else {
            Err(Failure::MethodNotAllowed(self))
        }
    }
}

/// The body of the 404 every host answers an unknown path with (whatever the method).
pub const NOT_FOUND: &str = "not found; the routes are /put?message=TEXT, /get[?key=K], \
                             /set?key=K&value=V, /renew, /destroy, /login?user=NAME, /devices \
                             and /logout-everywhere\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_is_its_route_and_nothing_else_is_one() {
        for route in Route::ALL {
            assert_eq!(Route::of(route.path()), Some(route));
        }
        for path in ["/", "/nope", "/get/", "/GET", "/login?user=x", "", "put"] {
            assert_eq!(Route::of(path), None, "{path:?}");
        }
    }

    #[test]
    fn reads_answer_get_and_head_only() {
        for route in [Route::Get, Route::Devices] {
            assert!(route.allows("GET") && route.allows("HEAD"), "{route:?}");
            for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"] {
                assert_eq!(
                    route.check(method),
                    Err(Failure::MethodNotAllowed(route)),
                    "{route:?} {method}"
                );
            }
            assert_eq!(route.allow(), "GET, HEAD");
        }
    }

    #[test]
    fn routes_that_end_rotate_or_log_in_a_session_answer_post_only() {
        for route in
            [Route::Set, Route::Renew, Route::Destroy, Route::Login, Route::LogoutEverywhere]
        {
            assert_eq!(route.check("POST"), Ok(()), "{route:?}");
            for method in ["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "post"] {
                assert!(!route.allows(method), "{route:?} {method}");
            }
            assert_eq!(route.allow(), "POST");
        }
    }

    #[test]
    fn put_keeps_get_and_takes_post_but_not_head() {
        assert!(Route::Put.allows("GET") && Route::Put.allows("POST"));
        assert!(!Route::Put.allows("HEAD"), "HEAD is safe; /put writes");
        assert!(!Route::Put.allows("PUT"));
        assert_eq!(Route::Put.allow(), "GET, POST");
    }

    #[test]
    fn methods_are_case_sensitive() {
        assert!(!Route::Get.allows("get"));
        assert!(!Route::Renew.allows("Post"));
    }

    #[test]
    fn the_allow_header_lists_exactly_the_allowed_methods() {
        for route in Route::ALL {
            assert_eq!(route.allow(), route.methods().join(", "), "{route:?}");
        }
    }

    #[test]
    fn a_refused_method_is_405_with_allow_and_a_fixed_body_and_the_cookie_left_alone() {
        let post_only = Route::Destroy.check("GET").unwrap_err().answer();
        assert_eq!(
            (post_only.status, post_only.body.as_str(), post_only.allow),
            (405, "method not allowed; use POST\n", Some("POST"))
        );
        assert_eq!((post_only.retry_after_s, post_only.clear_cookie), (None, false));
        let read = Route::Devices.check("POST").unwrap_err().answer();
        assert_eq!(
            (read.status, read.body.as_str(), read.allow),
            (405, "method not allowed; use GET or HEAD\n", Some("GET, HEAD"))
        );
        let put = Route::Put.check("DELETE").unwrap_err().answer();
        assert_eq!(
            (put.body.as_str(), put.allow),
            ("method not allowed; use GET or POST\n", Some("GET, POST"))
        );
    }

    #[test]
    fn the_404_names_every_route() {
        for route in Route::ALL {
            assert!(NOT_FOUND.contains(route.path()), "{route:?}");
        }
    }
}
