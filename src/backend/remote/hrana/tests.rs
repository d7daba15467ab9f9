use super::*;
use crate::schema::TableName;
use libsql_hrana::proto::ExecuteStreamResp;

fn parse(json: &str) -> PipelineRespBody {
    serde_json::from_str(json).expect("valid pipeline response")
}

#[test]
fn a_pipeline_runs_schema_then_operation_then_close() {
    let sql = Sql::new(&TableName::default());
    let body =
        pipeline(Some(schema_batch(&sql)), execute(stmt(&sql.find, [text("t"), int(5)], true)));
    let json = serde_json::to_value(&body).expect("serialise");
    let types: Vec<_> =
        json["requests"].as_array().expect("requests").iter().map(|r| r["type"].clone()).collect();
    assert_eq!(types, ["batch", "execute", "close"]);
    assert_eq!(
        json["requests"][1]["stmt"]["args"][1],
        serde_json::json!({"type": "integer", "value": "5"})
    );
    assert!(json["baton"].is_null());
}

#[test]
fn a_pipeline_sent_again_without_its_schema_keeps_its_operation_and_close() {
    let sql = Sql::new(&TableName::default());
    let mut body = pipeline(Some(schema_batch(&sql)), batch(sweep_batch(&sql, 5, 10)));
    without_schema(&mut body);
    let json = serde_json::to_value(&body).expect("serialise");
    let types: Vec<_> =
        json["requests"].as_array().expect("requests").iter().map(|r| r["type"].clone()).collect();
    assert_eq!(types, ["batch", "close"]);
    assert_eq!(json["requests"][0]["batch"]["steps"][1]["stmt"]["sql"], sql.sweep.as_str());
}

#[test]
fn blobs_travel_as_base64() {
    let json = serde_json::to_value(blob(b"hi")).expect("serialise");
    assert_eq!(json, serde_json::json!({"type": "blob", "base64": "aGk"}));
}

#[test]
fn an_execute_result_yields_its_rows() {
    let resp = parse(
        r#"{"baton":null,"base_url":null,"results":[
            {"type":"ok","response":{"type":"execute","result":{"cols":[],"rows":[[{"type":"text","value":"a"},{"type":"blob","base64":"aGk"}]],"affected_row_count":0,"last_insert_rowid":null}}},
            {"type":"ok","response":{"type":"close"}}]}"#,
    );
    let Answered::Done(response) = op_response(resp, false).expect("ok") else {
        panic!("not legacy")
    };
    let result = stmt_result(response).expect("execute");
    assert_eq!(entries(&result).expect("rows"), vec![("a".to_owned(), b"hi".to_vec())]);
}

#[test]
fn a_failed_schema_step_is_a_storage_error() {
    let resp = parse(
        r#"{"baton":null,"base_url":null,"results":[
            {"type":"ok","response":{"type":"batch","result":{"step_results":[{"cols":[],"rows":[],"affected_row_count":0,"last_insert_rowid":null},null],"step_errors":[null,{"message":"table x may not be created","code":"SQLITE_ERROR"}]}}},
            {"type":"error","error":{"message":"not run","code":"X"}}]}"#,
    );
    assert!(
        matches!(op_response(resp, true), Err(Error::Storage(m)) if m.contains("may not be created"))
    );
}

#[test]
fn busy_servers_are_unavailable() {
    let resp = parse(
        r#"{"baton":null,"base_url":null,"results":[{"type":"error","error":{"message":"database is locked","code":"SQLITE_BUSY"}}]}"#,
    );
    assert!(matches!(op_response(resp, false), Err(Error::Unavailable(_))));
}

fn execute_result(rows: &str, affected: u64) -> StmtResult {
    serde_json::from_str(&format!(
        r#"{{"cols":[],"rows":{rows},"affected_row_count":{affected},"last_insert_rowid":null}}"#
    ))
    .expect("statement result")
}

#[test]
fn counts_come_from_one_row_of_two_integers() {
    let ok =
        execute_result(r#"[[{"type":"integer","value":"3"},{"type":"integer","value":"4"}]]"#, 0);
    assert_eq!(session_counts(&ok), Ok(SessionCounts { active: 3, expired: 4 }));
}

#[test]
fn garbled_counts_are_storage_errors_never_zero() {
    for rows in [
        "[]",
        "[[]]",
        r#"[[{"type":"integer","value":"3"}]]"#,
        r#"[[{"type":"text","value":"3"},{"type":"integer","value":"4"}]]"#,
        r#"[[{"type":"integer","value":"3"},{"type":"null"}]]"#,
        r#"[[{"type":"float","value":1.5},{"type":"integer","value":"4"}]]"#,
        r#"[[{"type":"integer","value":"-1"},{"type":"integer","value":"4"}]]"#,
        r#"[[{"type":"integer","value":"1"},{"type":"integer","value":"1"}],[{"type":"integer","value":"1"},{"type":"integer","value":"1"}]]"#,
    ] {
        assert!(
            matches!(session_counts(&execute_result(rows, 0)), Err(Error::Storage(_))),
            "{rows}"
        );
    }
}

#[test]
fn find_reads_no_row_as_no_session_and_refuses_garbled_rows() {
    assert_eq!(found_data(&execute_result("[]", 0)), Ok(None));
    assert_eq!(
        found_data(&execute_result(r#"[[{"type":"blob","base64":"aGk"}]]"#, 0)),
        Ok(Some(b"hi".to_vec()))
    );
    for rows in [
        "[[]]",
        r#"[[{"type":"null"}]]"#,
        r#"[[{"type":"integer","value":"1"}]]"#,
        r#"[[{"type":"blob","base64":"aGk"}],[{"type":"blob","base64":"aGk"}]]"#,
    ] {
        assert!(matches!(found_data(&execute_result(rows, 0)), Err(Error::Storage(_))), "{rows}");
    }
}

#[test]
fn single_row_writes_change_zero_or_one_row() {
    assert_eq!(changed_one(&execute_result("[]", 0)), Ok(false));
    assert_eq!(changed_one(&execute_result("[]", 1)), Ok(true));
    assert!(matches!(changed_one(&execute_result("[]", 2)), Err(Error::Storage(_))));
}

#[test]
fn listings_refuse_rows_that_are_not_token_and_data() {
    for rows in [
        "[[]]",
        r#"[[{"type":"text","value":"a"}]]"#,
        r#"[[{"type":"integer","value":"1"},{"type":"blob","base64":"aGk"}]]"#,
        r#"[[{"type":"text","value":"a"},{"type":"null"}]]"#,
    ] {
        assert!(matches!(entries(&execute_result(rows, 0)), Err(Error::Storage(_))), "{rows}");
    }
}

#[test]
fn a_sweep_without_its_count_step_is_a_storage_error() {
    let ok = r#"{"cols":[],"rows":[],"affected_row_count":0,"last_insert_rowid":null}"#;
    let json = format!(
        r#"{{"type":"batch","result":{{"step_results":[{ok},{ok},{ok},{ok},null],"step_errors":[null,null,null,null,null]}}}}"#
    );
    let resp: StreamResponse = serde_json::from_str(&json).expect("batch response");
    assert!(matches!(sweep_report(resp), Err(Error::Storage(_))));
}

#[test]
fn a_committed_sweep_reports_removed_and_more() {
    let ok = r#"{"cols":[],"rows":[],"affected_row_count":0,"last_insert_rowid":null}"#;
    let json = format!(
        r#"{{"type":"batch","result":{{"step_results":[{ok},{{"cols":[],"rows":[],"affected_row_count":3,"last_insert_rowid":null}},{{"cols":[],"rows":[[{{"type":"integer","value":"1"}}]],"affected_row_count":0,"last_insert_rowid":null}},{ok},null],"step_errors":[null,null,null,null,{{"message":"no transaction","code":"SQLITE_ERROR"}}]}}}}"#
    );
    let resp: StreamResponse = serde_json::from_str(&json).expect("batch response");
    assert_eq!(sweep_report(resp).expect("report"), SweepReport { removed: 3, more: true });
}

fn batch_response(results: &[Option<&str>]) -> StreamResponse {
    let steps: Vec<String> =
        results.iter().map(|r| r.map_or("null".to_owned(), |rows| rows.to_owned())).collect();
    let errors: Vec<&str> = results
        .iter()
        .map(|r| if r.is_some() { "null" } else { r#"{"message":"not run","code":"X"}"# })
        .collect();
    let json = format!(
        r#"{{"type":"batch","result":{{"step_results":[{}],"step_errors":[{}]}}}}"#,
        steps.join(","),
        errors.join(",")
    );
    serde_json::from_str(&json).expect("batch response")
}

const NO_ROWS: &str = r#"{"cols":[],"rows":[],"affected_row_count":0,"last_insert_rowid":null}"#;
const ONE_CHANGED: &str =
    r#"{"cols":[],"rows":[],"affected_row_count":1,"last_insert_rowid":null}"#;
const TRUE_ROW: &str = r#"{"cols":[],"rows":[[{"type":"integer","value":"1"}]],"affected_row_count":0,"last_insert_rowid":null}"#;
const FALSE_ROW: &str = r#"{"cols":[],"rows":[[{"type":"integer","value":"0"}]],"affected_row_count":0,"last_insert_rowid":null}"#;

#[test]
fn a_schema_probe_that_finds_the_0_1_layout_asks_for_the_upgrade() {
    let resp = PipelineRespBody {
        baton: None,
        base_url: None,
        results: vec![
            StreamResult::Ok {
                response: batch_response(&[Some(TRUE_ROW), Some(NO_ROWS), Some(NO_ROWS), None]),
            },
            StreamResult::Error {
                error: HranaError {
                    message: "no such column: id".into(),
                    code: "SQLITE_ERROR".into(),
                },
            },
        ],
    };
    assert!(
        matches!(op_response(resp, true), Ok(Answered::Legacy(None))),
        "a failed operation is sent again"
    );
    let swept = PipelineRespBody {
            baton: None,
            base_url: None,
            results: vec![
                StreamResult::Ok { response: batch_response(&[Some(TRUE_ROW), Some(NO_ROWS), Some(NO_ROWS), None]) },
                // A sweep that committed: its ROLLBACK step skipped (no result, no error).
                StreamResult::Ok {
                    response: serde_json::from_str(&format!(
                        r#"{{"type":"batch","result":{{"step_results":[{NO_ROWS},{ONE_CHANGED},{FALSE_ROW},{NO_ROWS},null],"step_errors":[null,null,null,null,null]}}}}"#
                    ))
                    .expect("batch response"),
                },
            ],
        };
    let Ok(Answered::Legacy(Some(response))) = op_response(swept, true) else {
        panic!("a sweep that ran keeps its answer")
    };
    assert_eq!(sweep_report(response).expect("report"), SweepReport { removed: 1, more: false });
}

#[test]
fn rotation_reads_the_copy_then_the_collision_check() {
    let rotated = batch_response(&[
        Some(NO_ROWS),
        Some(ONE_CHANGED),
        Some(ONE_CHANGED),
        Some(FALSE_ROW),
        Some(NO_ROWS),
        None,
    ]);
    assert_eq!(rotation(rotated).expect("rotated"), Rotation::Rotated);
    let taken = batch_response(&[
        Some(NO_ROWS),
        Some(NO_ROWS),
        Some(NO_ROWS),
        Some(TRUE_ROW),
        Some(NO_ROWS),
        None,
    ]);
    assert_eq!(rotation(taken).expect("taken"), Rotation::Taken);
    let inactive = batch_response(&[
        Some(NO_ROWS),
        Some(NO_ROWS),
        Some(NO_ROWS),
        Some(FALSE_ROW),
        Some(NO_ROWS),
        None,
    ]);
    assert_eq!(rotation(inactive).expect("not active"), Rotation::NotActive);
    let rolled_back = batch_response(&[Some(NO_ROWS), None, None, None, None, Some(NO_ROWS)]);
    assert!(matches!(rotation(rolled_back), Err(Error::Storage(_))));
}

#[test]
fn a_group_commit_answers_each_change_and_fails_whole_when_rolled_back() {
    let changes = [
        crate::testing::upsert("a", b"a", 9),
        Change::Update { id: "b".into(), data: b"b", expiry: 9 },
        Change::Touch { id: "c".into(), expiry: 9 },
        Change::Delete { id: "d".into() },
    ];
    let StreamRequest::Batch(request) =
        apply_request(&Sql::new(&TableName::default()), &changes, 1)
    else {
        panic!("a batch of changes is a transactional batch")
    };
    assert_eq!(
        request.batch.steps.len(),
        changes.len() + 3,
        "BEGIN, the changes, COMMIT, ROLLBACK"
    );
    let committed = batch_response(&[
        Some(NO_ROWS),
        Some(ONE_CHANGED),
        Some(NO_ROWS),
        Some(ONE_CHANGED),
        Some(NO_ROWS),
        Some(NO_ROWS),
        None,
    ]);
    assert_eq!(applied(committed, &changes).expect("applied"), vec![true, false, true, true]);
    let rolled_back =
        batch_response(&[Some(NO_ROWS), Some(ONE_CHANGED), None, None, None, None, Some(NO_ROWS)]);
    assert!(matches!(applied(rolled_back, &changes), Err(Error::Storage(_))));
    let short = batch_response(&[Some(NO_ROWS), Some(ONE_CHANGED), Some(NO_ROWS)]);
    assert!(
        matches!(applied(short, &changes), Err(Error::Storage(_))),
        "fewer results than changes"
    );
    let alone = &changes[1..2];
    assert!(
        matches!(
            apply_request(&Sql::new(&TableName::default()), alone, 1),
            StreamRequest::Execute(_)
        ),
        "one change, one statement"
    );
    let executed = |affected: u64| {
        StreamResponse::Execute(ExecuteStreamResp { result: execute_result("[]", affected) })
    };
    assert_eq!(applied(executed(0), alone).expect("applied"), vec![false]);
    assert_eq!(applied(executed(1), alone).expect("applied"), vec![true]);
}

#[test]
fn revocations_count_only_the_rows_that_were_active() {
    let rows = r#"[[{"type":"integer","value":"1"}],[{"type":"integer","value":"0"}],[{"type":"integer","value":"1"}]]"#;
    assert_eq!(active_deleted(&execute_result(rows, 3)), Ok(2));
    assert_eq!(active_deleted(&execute_result("[]", 0)), Ok(0));
    assert!(matches!(
        active_deleted(&execute_result(r#"[[{"type":"text","value":"1"}]]"#, 1)),
        Err(Error::Storage(_))
    ));
}

#[test]
fn owner_listings_read_null_as_no_owner_and_refuse_garbled_rows() {
    let rows = r#"[[{"type":"text","value":"id1"},{"type":"text","value":"ada"},{"type":"integer","value":"7"},{"type":"integer","value":"3"},{"type":"integer","value":"5"},{"type":"text","value":"Firefox"}],[{"type":"text","value":"id2"},{"type":"null"},{"type":"integer","value":"9"},{"type":"null"},{"type":"null"},{"type":"null"}]]"#;
    let infos = session_infos(&execute_result(rows, 0)).expect("rows");
    assert_eq!(
        infos[0],
        crate::backend::Device {
            info: SessionInfo { id: "id1".into(), owner: Some("ada".into()), expiry: 7 },
            created: Some(3),
            last_seen: Some(5),
            label: Some("Firefox".into()),
        }
    );
    assert_eq!(
        (infos[1].info.owner.clone(), infos[1].created, infos[1].label.clone()),
        (None, None, None)
    );
    let garbled = r#"[[{"type":"text","value":"id1"},{"type":"text","value":"ada"}]]"#;
    assert!(matches!(session_infos(&execute_result(garbled, 0)), Err(Error::Storage(_))));
}

#[test]
fn upgrade_requests_continue_one_stream_and_rekey_rows_by_rowid() {
    let sql = Sql::new(&TableName::default());
    let start = serde_json::to_value(Upgrade::start(&sql)).expect("serialise");
    assert!(start["baton"].is_null());
    assert_eq!(start["requests"][0]["stmt"]["sql"], "BEGIN IMMEDIATE");
    let rekey = serde_json::to_value(Upgrade::rekey(
        &sql,
        "b1".into(),
        &[(4, "id4".into()), (9, "id9".into())],
    ))
    .expect("serialise");
    assert_eq!(rekey["baton"], "b1");
    assert_eq!(
        rekey["requests"][1]["stmt"]["args"][1],
        serde_json::json!({"type": "text", "value": "id9"})
    );
    assert_eq!(
        rekey["requests"][2]["stmt"]["args"][0],
        serde_json::json!({"type": "integer", "value": "9"}),
        "next chunk after the last rowid"
    );
    let finish = serde_json::to_value(Upgrade::finish(&sql, "b2".into())).expect("serialise");
    let steps: Vec<String> = finish["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["stmt"]["sql"].as_str().unwrap_or("close").to_owned())
        .collect();
    assert!(
        steps[0].contains("RENAME COLUMN token TO id") && steps[1].contains("ADD COLUMN owner"),
        "{steps:?}"
    );
    assert_eq!(steps[steps.len() - 2..], ["COMMIT", "close"]);
    let rows =
        execute_result(r#"[[{"type":"integer","value":"3"},{"type":"text","value":"tok"}]]"#, 0);
    assert_eq!(Upgrade::rows(&rows).expect("rows"), vec![(3, "tok".to_owned())]);
}

#[test]
fn the_schema_batch_forgives_only_its_guard_the_error_of_a_0_2_table() {
    let sql = Sql::new(&TableName::default());
    let steps = schema_batch(&sql).steps.len();
    let schema = |failed: usize| {
        let results: Vec<Option<&str>> =
            (0..steps).map(|i| if i == failed { None } else { Some(NO_ROWS) }).collect();
        StreamResult::Ok { response: batch_response(&results) }
    };
    let executed = || StreamResult::Ok {
        response: StreamResponse::Execute(ExecuteStreamResp { result: execute_result("[]", 0) }),
    };
    let answer = |failed| PipelineRespBody {
        baton: None,
        base_url: None,
        results: vec![schema(failed), executed()],
    };
    assert!(matches!(op_response(answer(V3_LOOK_STEP), true), Ok(Answered::Done(_))));
    assert!(matches!(op_response(answer(V3_GUARD_STEP), true), Ok(Answered::Done(_))));
    let first_alter = V3_GUARD_STEP + 1;
    assert!(matches!(op_response(answer(first_alter), true), Err(Error::Storage(_))));
}
