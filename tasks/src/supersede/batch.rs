//! One BatchGetItem request: up to [`MAX_KEYS_PER_REQUEST`] distinct keys of one table,
//! consistent reads, projected down to the key attributes and the template's attributes.
//!
//! Its answer is matched back to the request key by key: a returned item by its key attributes
//! (projected for exactly that reason), an unprocessed key by value, and any other key asked for
//! is absent. If an item comes back that matches no key asked for, "absent" can't be trusted for
//! the keys left over, so they are marked [`Reply::Unsure`] and checked again one by one.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::keys::{ItemKey, json_image};
use super::{Answer, Lookup, Projection, VALIDATION_EXCEPTION};
use crate::error::TaskError;

/// BatchGetItem's limit on keys per request.
pub(crate) const MAX_KEYS_PER_REQUEST: usize = 100;

/// What one request said about one of its keys.
#[derive(Debug)]
pub(crate) enum Reply {
    Answered(Answer),
    /// Left in `UnprocessedKeys`: ask again later.
    Unprocessed,
    /// Not returned, while an item nobody asked for was: ask again with GetItem.
    Unsure,
}

/// What one request said.
#[derive(Debug)]
pub(crate) enum BatchAnswer {
    /// One reply per key, in the order asked.
    Replies(Vec<Reply>),
    /// DynamoDB refused the whole request (`ValidationException`): some key does not fit the
    /// table's key schema, and the error does not say which.
    Refused { detail: String },
}

/// Asks for the items behind `lookups[i]` for each `i` in `asked` (distinct, at most
/// [`MAX_KEYS_PER_REQUEST`]), reading `fields` besides the keys.
pub(crate) async fn get(
    client: &Client,
    table: &str,
    fields: &[&str],
    lookups: &[Lookup],
    asked: &[usize],
) -> Result<BatchAnswer, TaskError> {
    let asked: Vec<&Lookup> = asked.iter().map(|&i| &lookups[i]).collect();
    let projection = Projection::of(
        asked
            .iter()
            .flat_map(|l| l.id.names())
            .chain(fields.iter().copied()),
    );
    let mut keys = KeysAndAttributes::builder()
        .set_keys(Some(asked.iter().map(|l| l.sdk.clone()).collect()))
        .consistent_read(true);
    if let Some(expression) = projection.expression() {
        keys = keys
            .projection_expression(expression)
            .set_expression_attribute_names(Some(projection.names()));
    }
    let keys = keys.build().map_err(|err| TaskError::Aws {
        service: "dynamodb",
        code: "BuildError".into(),
        message: format!("could not build the BatchGetItem request: {err}"),
    })?;
    let output = match client
        .batch_get_item()
        .request_items(table, keys)
        .send()
        .await
    {
        Ok(output) => output,
        Err(err) if err.code() == Some(VALIDATION_EXCEPTION) => {
            return Ok(BatchAnswer::Refused {
                detail: format!(
                    "BatchGetItem on table {table:?} refused {} keys: {VALIDATION_EXCEPTION}: {}",
                    asked.len(),
                    err.message().unwrap_or("no message")
                ),
            });
        }
        Err(err) => return Err(crate::aws_errors::classify("dynamodb", &err)),
    };

    // One table per request, so every entry is ours, whether DynamoDB keys its answer by the
    // table's name or by the ARN it was given.
    let unprocessed: HashSet<ItemKey> = output
        .unprocessed_keys()
        .into_iter()
        .flat_map(HashMap::values)
        .flat_map(KeysAndAttributes::keys)
        .filter_map(ItemKey::of_key)
        .collect();
    let position: HashMap<&ItemKey, usize> = asked
        .iter()
        .enumerate()
        .map(|(at, l)| (&l.id, at))
        .collect();
    // Keys of a table share their names; replayed keys may not, so try each set of names once.
    let mut name_sets: Vec<&ItemKey> = Vec::new();
    for lookup in &asked {
        if !name_sets.iter().any(|k| k.names().eq(lookup.id.names())) {
            name_sets.push(&lookup.id);
        }
    }

    let mut replies: Vec<Option<Reply>> = asked.iter().map(|_| None).collect();
    let mut stray = false;
    for item in output
        .responses()
        .into_iter()
        .flat_map(HashMap::values)
        .flatten()
    {
        let at = name_sets
            .iter()
            .filter_map(|names| names.same_names_in(item))
            .find_map(|id| position.get(&id).copied());
        match at {
            Some(at) => replies[at] = Some(Reply::Answered(Answer::Found(json_image(item)))),
            None => stray = true,
        }
    }
    let replies = replies
        .into_iter()
        .zip(&asked)
        .map(|(reply, lookup)| match reply {
            Some(reply) => reply,
            None if unprocessed.contains(&lookup.id) => Reply::Unprocessed,
            None if stray => Reply::Unsure,
            None => Reply::Answered(Answer::Absent),
        })
        .collect();
    Ok(BatchAnswer::Replies(replies))
}
