//! Step Functions' optimized Amazon SQS integration, `arn:aws:states:::sqs:sendMessage`, shaped
//! as AWS shapes it, so a definition that uses it behaves the same on this engine.
//!
//! What AWS does around the SendMessage call itself (which the handler registered under
//! [`SEND_MESSAGE`] makes against a real endpoint):
//! - **Parameters:** only SendMessage's own (`QueueUrl`, `MessageBody`, `DelaySeconds`,
//!   `MessageAttributes`, `MessageDeduplicationId`, `MessageGroupId`) reach SQS; others are
//!   dropped.
//! - **MessageBody:** a JSON object (or any value that is not a string) is sent as its JSON
//!   text, compact and in the definition's key order; a string is sent as it is.
//! - **Result:** `MessageId` and `MD5OfMessageBody` (and `MD5OfMessageAttributes`,
//!   `SequenceNumber` when SQS answers them), with `SdkHttpMetadata` and `SdkResponseMetadata`
//!   beside them, as the integration returns them.
//!
//! - **History:** the TaskScheduled event's `parameters` are the Parameters as the state
//!   computed them, not this request (why: the comment in `engine/task.rs`).
//!
//! The request/response integration pattern only: `.waitForTaskToken` needs a callback API this
//! engine does not have, and is refused by name rather than run as a plain send.

use serde_json::{Map, Value, json};

use crate::error::{StatesError, names};

/// The resource of the optimized SendMessage integration.
pub const SEND_MESSAGE: &str = "arn:aws:states:::sqs:sendMessage";

/// SendMessage's parameters, as the integration passes them on.
const SEND_MESSAGE_PARAMETERS: [&str; 6] = [
    "QueueUrl",
    "MessageBody",
    "DelaySeconds",
    "MessageAttributes",
    "MessageDeduplicationId",
    "MessageGroupId",
];

/// Whether `resource` is the SendMessage integration in a pattern this engine runs.
pub fn is_send_message(resource: &str) -> bool {
    resource == SEND_MESSAGE
}

/// A `.waitForTaskToken` (or other) pattern of the SendMessage integration, which the engine
/// refuses by name.
pub fn is_unsupported_send_message_pattern(resource: &str) -> bool {
    resource
        .strip_prefix(SEND_MESSAGE)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// The request the integration sends for a Task state's effective input: SendMessage's own
/// parameters only, with a `MessageBody` that is not a string turned into its JSON text.
pub fn send_message_request(state_name: &str, payload: Value) -> Result<Value, StatesError> {
    let Value::Object(parameters) = payload else {
        return Err(StatesError::new(
            names::RUNTIME,
            format!(
                "Task state '{state_name}' calls {SEND_MESSAGE} with Parameters/Arguments that are not an object"
            ),
        ));
    };
    let mut request = Map::new();
    for (name, value) in parameters {
        if !SEND_MESSAGE_PARAMETERS.contains(&name.as_str()) {
            continue;
        }
        let value = match (name.as_str(), value) {
            ("MessageBody", Value::String(text)) => Value::String(text),
            ("MessageBody", other) => Value::String(other.to_string()),
            (_, other) => other,
        };
        request.insert(name, value);
    }
    Ok(Value::Object(request))
}

/// The task's result from what SendMessage answered (`MessageId`, `MD5OfMessageBody`, ...):
/// those fields, then the SDK metadata the integration adds. Metadata the answer already
/// carries is kept.
pub fn send_message_result(answer: Value) -> Value {
    let mut result = match answer {
        Value::Object(fields) => fields,
        other => {
            let mut fields = Map::new();
            fields.insert("MessageId".into(), other);
            fields
        }
    };
    let request_id = result
        .get("SdkResponseMetadata")
        .and_then(|m| m.get("RequestId"))
        .and_then(Value::as_str)
        .unwrap_or("00000000-0000-0000-0000-000000000000")
        .to_owned();
    result.entry("SdkHttpMetadata").or_insert_with(|| {
        json!({
            "AllHttpHeaders": {
                "Content-Type": ["application/x-amz-json-1.0"],
                "x-amzn-RequestId": [request_id]
            },
            "HttpHeaders": {
                "Content-Type": "application/x-amz-json-1.0",
                "x-amzn-RequestId": request_id
            },
            "HttpStatusCode": 200
        })
    });
    result
        .entry("SdkResponseMetadata")
        .or_insert_with(|| json!({"RequestId": request_id}));
    Value::Object(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_body_is_sent_as_its_compact_json_text_in_the_definitions_order() {
        let request = send_message_request(
            "Defer",
            json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q",
                   "MessageBody": {"z": 1, "a": {"paths": ["/a b.jpg"]}, "s": "quote \" here"}}),
        )
        .expect("an object");
        assert_eq!(
            request["MessageBody"],
            json!(r#"{"z":1,"a":{"paths":["/a b.jpg"]},"s":"quote \" here"}"#)
        );
        assert_eq!(
            request["QueueUrl"],
            json!("https://sqs.us-east-1.amazonaws.com/1/q")
        );
    }

    #[test]
    fn a_string_body_is_sent_as_it_is_and_other_values_as_json_text() {
        for (body, sent) in [
            (json!("plain text"), "plain text"),
            (json!("{\"already\":\"json\"}"), "{\"already\":\"json\"}"),
            (json!(42), "42"),
            (json!([1, "two"]), "[1,\"two\"]"),
            (json!(null), "null"),
        ] {
            let request = send_message_request("S", json!({"QueueUrl": "q", "MessageBody": body}))
                .expect("an object");
            assert_eq!(request["MessageBody"], json!(sent));
        }
    }

    #[test]
    fn only_send_messages_own_parameters_are_passed_on() {
        let request = send_message_request(
            "S",
            json!({"QueueUrl": "q", "MessageBody": "b", "DelaySeconds": 5,
                   "MessageGroupId": "g", "MessageDeduplicationId": "d",
                   "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}},
                   "MessageSystemAttribute": {"AWSTraceHeader": "t"}, "Extra": 1}),
        )
        .expect("an object");
        let names: Vec<&String> = request.as_object().expect("object").keys().collect();
        assert_eq!(
            names,
            [
                "QueueUrl",
                "MessageBody",
                "DelaySeconds",
                "MessageGroupId",
                "MessageDeduplicationId",
                "MessageAttributes"
            ]
        );
    }

    #[test]
    fn arguments_that_are_not_an_object_fail_by_name() {
        let err = send_message_request("Defer", json!("text")).expect_err("not an object");
        assert_eq!(err.error, names::RUNTIME);
        assert!(err.cause.contains("Task state 'Defer'"), "{}", err.cause);
    }

    #[test]
    fn the_result_carries_the_answer_and_the_sdk_metadata() {
        let result = send_message_result(json!({
            "MessageId": "5fea7756-0ea4-451a-a703-a558b933e274",
            "MD5OfMessageBody": "fafb00f5732ab283681e124bf8747ed1"
        }));
        assert_eq!(
            result["MessageId"],
            json!("5fea7756-0ea4-451a-a703-a558b933e274")
        );
        assert_eq!(
            result["MD5OfMessageBody"],
            json!("fafb00f5732ab283681e124bf8747ed1")
        );
        assert_eq!(result["SdkHttpMetadata"]["HttpStatusCode"], json!(200));
        assert!(result["SdkResponseMetadata"]["RequestId"].is_string());
        let keys: Vec<&String> = result.as_object().expect("object").keys().collect();
        assert_eq!(
            keys,
            [
                "MessageId",
                "MD5OfMessageBody",
                "SdkHttpMetadata",
                "SdkResponseMetadata"
            ]
        );
    }

    #[test]
    fn patterns_are_told_apart() {
        assert!(is_send_message(SEND_MESSAGE));
        assert!(!is_send_message(
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        ));
        assert!(is_unsupported_send_message_pattern(
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        ));
        assert!(!is_unsupported_send_message_pattern(SEND_MESSAGE));
        assert!(!is_unsupported_send_message_pattern(
            "arn:aws:states:::sqs:sendMessageBatch"
        ));
    }
}
