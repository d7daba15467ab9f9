//! The stored form of a session (the format is specified in the crate docs).

use serde::Deserialize;
use serde_json::{Map, Value};

/// A session as the store keeps it: `{"deadline":…,"values":{…}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    /// Absolute end of the session, ms since the Unix epoch.
    pub deadline: u64,
    /// The session's values.
    pub values: Map<String, Value>,
}

impl Record {
    /// The bytes to store: compact JSON, `deadline` first.
    pub fn encode(&self) -> Vec<u8> {
        let mut object = Map::new();
        object.insert("deadline".to_owned(), Value::from(self.deadline));
        object.insert("values".to_owned(), Value::Object(self.values.clone()));
        // Writing a JSON value cannot fail: its keys are strings and its numbers finite.
        Value::Object(object).to_string().into_bytes()
    }

    /// The record in `data`, or `None` when the data is not a session record (then the
    /// request starts a fresh session).
    pub fn decode(data: &[u8]) -> Option<Record> {
        serde_json::from_slice(data).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(deadline: u64, message: &str) -> Record {
        let mut values = Map::new();
        values.insert("message".into(), Value::from(message));
        Record { deadline, values }
    }

    #[test]
    fn the_encoding_is_the_documented_compact_json() {
        assert_eq!(
            String::from_utf8(record(1_767_225_600_000, "hi \"you\"").encode()).expect("utf-8"),
            r#"{"deadline":1767225600000,"values":{"message":"hi \"you\""}}"#
        );
        assert_eq!(
            Record { deadline: 0, values: Map::new() }.encode(),
            br#"{"deadline":0,"values":{}}"#
        );
    }

    #[test]
    fn a_record_survives_encoding_and_decoding() {
        let r = record(42, "ünïcödé ✓");
        assert_eq!(Record::decode(&r.encode()), Some(r));
    }

    #[test]
    fn records_written_by_other_hosts_are_read_and_unknown_fields_ignored() {
        // JavaScript's JSON.stringify({deadline, values}), with spaces and an extra field.
        let data = br#"{ "values": {"message": "from node", "n": [1, 2]}, "deadline": 7, "v": 2 }"#;
        let r = Record::decode(data).expect("a record");
        assert_eq!(r.deadline, 7);
        assert_eq!(r.values["message"], "from node");
    }

    #[test]
    fn data_that_is_not_a_record_is_none() {
        for data in [
            &b""[..],
            b"not json",
            b"{}",
            b"[1,2]",
            br#"{"deadline":-1,"values":{}}"#,
            br#"{"deadline":1.5,"values":{}}"#,
            br#"{"deadline":1,"values":[]}"#,
            br#"{"deadline":"1","values":{}}"#,
            b"\xff\xfe",
        ] {
            assert_eq!(Record::decode(data), None, "{:?}", String::from_utf8_lossy(data));
        }
    }
}
