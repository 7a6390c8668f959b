//! `--provision`: creates whatever the pipeline needs and is missing, and finds what exists.
//!
//! Every step looks before it creates, so running it twice changes nothing: the table (with a
//! NEW_AND_OLD_IMAGES stream), the bucket, the distribution (found again by its comment), the
//! topic, the failure queue subscribed to the topic with raw message delivery, so each
//! queue message is one failure report as ReportFailures published it, and the deferral queue
//! the state machine sends batches CloudFront refused to, and the KMS HMAC key that signs
//! execution inputs (found again by its alias `alias/purgeflow-mac`).

use anyhow::{Context, bail};
use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig, ViewerProtocolPolicy,
};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::local::aws::AwsClients;

/// What to provision, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub table: String,
    /// The table's partition key (a string attribute).
    pub partition_key: String,
    pub bucket: String,
    /// Create the bucket with S3 Object Lock (versioned): what lets a legal hold stop a delete.
    pub object_lock: bool,
    /// An existing distribution to use; `None` finds or creates one for the bucket.
    pub distribution_id: Option<String>,
    pub topic_name: String,
    pub queue_name: String,
    /// The deferral queue: found or created by this name.
    pub deferral_queue_name: String,
    /// An existing MAC key to use (`PURGE_MAC_KEY_ID`); `None` finds or creates
    /// [`MAC_KEY_ALIAS`].
    pub mac_key_id: Option<String>,
}

/// The alias of the HMAC key `--provision` creates, so a second run finds it.
pub const MAC_KEY_ALIAS: &str = "alias/purgeflow-mac";

/// What exists after provisioning; also what `provisioned.json` remembers
/// ([`super::provisioned_file`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provisioned {
    pub table: String,
    pub stream_arn: String,
    pub bucket: String,
    pub distribution_id: String,
    pub topic_arn: String,
    pub queue_url: String,
    pub deferral_queue_url: String,
    /// The HMAC_256 key that signs execution inputs (`PURGE_MAC_KEY_ID`).
    pub mac_key_id: String,
}

/// Creates what is missing, in dependency order.
pub async fn provision(aws: &AwsClients, wanted: &Wanted) -> anyhow::Result<Provisioned> {
    let stream_arn = table(aws, wanted).await?;
    bucket(aws, wanted).await?;
    let distribution_id = match &wanted.distribution_id {
        Some(id) => {
            aws.cloudfront
                .get_distribution()
                .id(id)
                .send()
                .await
                .with_context(|| {
                    format!("distribution {id} (PURGE_DISTRIBUTION_ID) cannot be read")
                })?;
            id.clone()
        }
        None => distribution(aws, &wanted.bucket).await?,
    };
    let topic_arn = aws
        .sns
        .create_topic()
        .name(&wanted.topic_name)
        .send()
        .await
        .with_context(|| format!("cannot create or find topic {}", wanted.topic_name))?
        .topic_arn
        .context("CreateTopic answered without a TopicArn")?;
    let queue_url = failure_queue(aws, &wanted.queue_name, &topic_arn).await?;
    // CreateQueue returns the existing queue's URL when its attributes match (none are set).
    let deferral_queue_url = aws
        .sqs
        .create_queue()
        .queue_name(&wanted.deferral_queue_name)
        .send()
        .await
        .with_context(|| format!("cannot create or find queue {}", wanted.deferral_queue_name))?
        .queue_url
        .context("CreateQueue answered without a QueueUrl")?;
    let mac_key_id = mac_key(aws, wanted.mac_key_id.as_deref()).await?;
    Ok(Provisioned {
        table: wanted.table.clone(),
        stream_arn,
        bucket: wanted.bucket.clone(),
        distribution_id,
        topic_arn,
        queue_url,
        deferral_queue_url,
        mac_key_id,
    })
}

/// The MAC key's ARN: `given` (checked to be an HMAC_256 key for GenerateMac/VerifyMac), else
/// the key behind [`MAC_KEY_ALIAS`], else a new one (KeySpec HMAC_256, KeyUsage
/// GENERATE_VERIFY_MAC) with that alias.
async fn mac_key(aws: &AwsClients, given: Option<&str>) -> anyhow::Result<String> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let wanted = given.unwrap_or(MAC_KEY_ALIAS);
    match aws.kms.describe_key().key_id(wanted).send().await {
        Ok(found) => {
            let metadata = found
                .key_metadata
                .context("DescribeKey answered without key metadata")?;
            if metadata.key_spec() != Some(&KeySpec::Hmac256)
                || metadata.key_usage() != Some(&KeyUsageType::GenerateVerifyMac)
            {
                bail!(
                    "KMS key {wanted} is not an HMAC_256 key for GENERATE_VERIFY_MAC; purgeflow signs execution inputs with one"
                );
            }
            Ok(metadata.arn().unwrap_or(metadata.key_id()).to_owned())
        }
        Err(err)
            if given.is_none()
                && err
                    .as_service_error()
                    .is_some_and(|e| e.is_not_found_exception()) =>
        {
            let created = aws
                .kms
                .create_key()
                .key_spec(KeySpec::Hmac256)
                .key_usage(KeyUsageType::GenerateVerifyMac)
                .description("purgeflow: signs execution inputs and replay inputs")
                .send()
                .await
                .context("cannot create the MAC key (KMS CreateKey, HMAC_256)")?
                .key_metadata
                .context("CreateKey answered without key metadata")?;
            aws.kms
                .create_alias()
                .alias_name(MAC_KEY_ALIAS)
                .target_key_id(created.key_id())
                .send()
                .await
                .with_context(|| format!("cannot name the MAC key {MAC_KEY_ALIAS}"))?;
            Ok(created.arn().unwrap_or(created.key_id()).to_owned())
        }
        Err(err) => Err(anyhow::Error::new(err).context(format!(
            "cannot read KMS key {wanted} (PURGE_MAC_KEY_ID, or {MAC_KEY_ALIAS})"
        ))),
    }
}

/// The table's stream ARN, creating the table, or enabling its stream, when needed.
async fn table(aws: &AwsClients, wanted: &Wanted) -> anyhow::Result<String> {
    let described = aws
        .dynamodb
        .describe_table()
        .table_name(&wanted.table)
        .send()
        .await;
    let stream_spec = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .context("stream specification")?;
    let description = match described {
        Ok(output) => {
            let table = output
                .table
                .context("DescribeTable answered without a table")?;
            let view = table
                .stream_specification()
                .and_then(|s| s.stream_view_type().cloned());
            match view {
                Some(StreamViewType::NewAndOldImages) => table,
                Some(other) => bail!(
                    "table {} has a {other} stream; purgeflow needs NEW_AND_OLD_IMAGES to compute keys from old images \
                     (disable the stream and run --provision again)",
                    wanted.table
                ),
                None => aws
                    .dynamodb
                    .update_table()
                    .table_name(&wanted.table)
                    .stream_specification(stream_spec)
                    .send()
                    .await
                    .with_context(|| format!("cannot enable the stream of table {}", wanted.table))?
                    .table_description
                    .context("UpdateTable answered without a table")?,
            }
        }
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            aws.dynamodb
                .create_table()
                .table_name(&wanted.table)
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(&wanted.partition_key)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .context("attribute definition")?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(&wanted.partition_key)
                        .key_type(KeyType::Hash)
                        .build()
                        .context("key schema")?,
                )
                .billing_mode(BillingMode::PayPerRequest)
                .stream_specification(stream_spec)
                .send()
                .await
                .with_context(|| format!("cannot create table {}", wanted.table))?
                .table_description
                .context("CreateTable answered without a table")?
        }
        Err(error) => {
            return Err(anyhow::Error::new(error)
                .context(format!("cannot describe table {}", wanted.table)));
        }
    };
    description
        .latest_stream_arn
        .with_context(|| format!("table {} has no stream ARN", wanted.table))
}

async fn bucket(aws: &AwsClients, wanted: &Wanted) -> anyhow::Result<()> {
    match aws.s3.head_bucket().bucket(&wanted.bucket).send().await {
        Ok(_) => return Ok(()),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => {}
        Err(error) => {
            return Err(
                anyhow::Error::new(error).context(format!("cannot check bucket {}", wanted.bucket))
            );
        }
    }
    let mut create = aws
        .s3
        .create_bucket()
        .bucket(&wanted.bucket)
        .object_lock_enabled_for_bucket(wanted.object_lock);
    // us-east-1 is the one region that takes no location constraint.
    if let Some(region) = aws.s3.config().region().map(|r| r.as_ref().to_owned())
        && region != "us-east-1"
    {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    region.as_str(),
                ))
                .build(),
        );
    }
    create
        .send()
        .await
        .with_context(|| format!("cannot create bucket {}", wanted.bucket))?;
    Ok(())
}

/// The comment that marks the distribution purgeflow created for `bucket`.
fn distribution_comment(bucket: &str) -> String {
    format!("purgeflow local: {bucket}")
}

async fn distribution(aws: &AwsClients, bucket: &str) -> anyhow::Result<String> {
    let comment = distribution_comment(bucket);
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .cloudfront
            .list_distributions()
            .set_marker(marker.clone())
            .send()
            .await
            .context("cannot list CloudFront distributions")?;
        let Some(list) = page.distribution_list else {
            break;
        };
        if let Some(found) = list.items().iter().find(|d| d.comment() == comment) {
            return Ok(found.id().to_owned());
        }
        match list.next_marker {
            Some(next) if list.is_truncated => marker = Some(next),
            _ => break,
        }
    }
    let origin_id = format!("s3-{bucket}");
    let config = DistributionConfig::builder()
        .caller_reference(format!("purgeflow-local-{bucket}"))
        .comment(&comment)
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(
                    Origin::builder()
                        .id(&origin_id)
                        .domain_name(format!("{bucket}.s3.amazonaws.com"))
                        .s3_origin_config(
                            S3OriginConfig::builder().origin_access_identity("").build(),
                        )
                        .build()
                        .context("origin")?,
                )
                .build()
                .context("origins")?,
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id(&origin_id)
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .build()
                .context("default cache behavior")?,
        )
        .build()
        .context("distribution config")?;
    let created = aws
        .cloudfront
        .create_distribution()
        .distribution_config(config)
        .send()
        .await
        .with_context(|| format!("cannot create a distribution for bucket {bucket}"))?;
    Ok(created
        .distribution
        .context("CreateDistribution answered without a distribution")?
        .id)
}

/// The queue's URL, creating it and subscribing it to the topic when needed.
async fn failure_queue(
    aws: &AwsClients,
    queue_name: &str,
    topic_arn: &str,
) -> anyhow::Result<String> {
    let queue_url = aws
        .sqs
        .create_queue()
        .queue_name(queue_name)
        .send()
        .await
        .with_context(|| format!("cannot create or find queue {queue_name}"))?
        .queue_url
        .context("CreateQueue answered without a QueueUrl")?;
    let queue_arn = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("cannot read the attributes of queue {queue_name}"))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("GetQueueAttributes answered without a QueueArn")?;
    // In an account, SNS may only deliver to a queue whose policy lets the topic send.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}
        }]
    });
    aws.sqs
        .set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .with_context(|| format!("cannot set the policy of queue {queue_name}"))?;

    let subscriptions = aws
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn)
        .send()
        .await
        .with_context(|| format!("cannot list the subscriptions of {topic_arn}"))?;
    let subscribed = subscriptions
        .subscriptions()
        .iter()
        .any(|s| s.protocol() == Some("sqs") && s.endpoint() == Some(queue_arn.as_str()));
    if !subscribed {
        aws.sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .with_context(|| format!("cannot subscribe queue {queue_name} to {topic_arn}"))?;
    }
    Ok(queue_url)
}

/// The topic's name: the last field of its ARN.
pub fn topic_name(topic_arn: &str) -> Option<&str> {
    topic_arn
        .rsplit(':')
        .next()
        .filter(|name| !name.is_empty() && topic_arn.starts_with("arn:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_come_from_arns() {
        assert_eq!(
            topic_name("arn:aws:sns:us-east-1:000000000000:purge-failures"),
            Some("purge-failures")
        );
        assert_eq!(topic_name("purge-failures"), None);
        assert_eq!(topic_name("arn:aws:sns:us-east-1:000000000000:"), None);
    }

    #[test]
    fn the_distribution_comment_names_the_bucket() {
        assert_eq!(distribution_comment("photos"), "purgeflow local: photos");
    }
}
