//! One consistent GetItem: the fallback that isolates a key BatchGetItem refused.
//!
//! BatchGetItem answers a `ValidationException` for the whole request when one of its keys does
//! not fit the table's key schema. GetItem refuses only its own key, so asking the keys of that
//! request one by one finds the culprit and still answers every other key.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;

use super::keys::{SdkItem, json_image};
use super::{Answer, Projection, VALIDATION_EXCEPTION};
use crate::error::TaskError;

/// Reads the item behind `key` (consistent read) and projects what the template reads.
pub(crate) async fn get(
    client: &Client,
    table: &str,
    projection: &Projection,
    key: SdkItem,
) -> Result<Answer, TaskError> {
    let mut request = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true);
    if let Some(expression) = projection.expression() {
        request = request
            .projection_expression(expression)
            .set_expression_attribute_names(Some(projection.names()));
    }
    match request.send().await {
        Ok(output) => Ok(match output.item() {
            Some(item) => Answer::Found(json_image(item)),
            None => Answer::Absent,
        }),
        Err(err) if err.code() == Some(VALIDATION_EXCEPTION) => Ok(Answer::Refused(format!(
            "GetItem on table {table:?} refused the record's keys: {VALIDATION_EXCEPTION}: {}",
            err.message().unwrap_or("no message")
        ))),
        Err(err) => Err(crate::aws_errors::classify("dynamodb", &err)),
    }
}
