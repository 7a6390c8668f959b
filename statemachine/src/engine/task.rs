//! The Task state: hands its effective input to the [`TaskInvoker`](crate::task::TaskInvoker)
//! and records the events AWS records for the resource's kind.

use serde_json::{Value, json};

use super::retry::{self, RetryCounter};
use super::{Entered, Failure, Flow, Run, Step, exit_state, record_failure, simple};
use crate::history::json_text;
use crate::model::{QueryLanguage, State, TaskState};

/// How AWS names a resource in history events.
enum ResourceKind {
    /// A plain Lambda ARN or function name: `LambdaFunction*` events.
    Lambda,
    /// `arn:aws:states:::SERVICE:ACTION[.pattern]`: `Task*` events with resourceType SERVICE.
    Service {
        resource_type: String,
        resource: String,
    },
}

fn classify(resource: &str) -> ResourceKind {
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
        let (service, action) = rest.split_once(':').unwrap_or((rest, ""));
        return ResourceKind::Service {
            resource_type: service.to_owned(),
            resource: action.to_owned(),
        };
    }
    ResourceKind::Lambda
}

pub(super) async fn task(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    task: &TaskState,
    input: Value,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    let mut counter = RetryCounter::new(&state.common.retry);
    loop {
        match attempt(run, entered, state, task, &input, flow, counter.total()).await {
            Ok(step) => return Ok(step),
            Err(failure) => {
                let failure = record_failure(run, entered, failure, flow);
                if failure.timed_out || failure.stopped {
                    return Err(failure);
                }
                if let Some(delay) = counter.next_delay(&state.common.retry, &failure, &mut run.rng)
                {
                    simple::pause(run, flow, delay).await?;
                    super::check_history_limit(run)?;
                    continue;
                }
                return retry::catch(run, entered, state, &input, failure, flow);
            }
        }
    }
}

async fn attempt(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    task: &TaskState,
    input: &Value,
    flow: &mut Flow,
    retry_count: u32,
) -> Result<Step, Failure> {
    let context = run.context(entered, Some(retry_count));
    let payload = {
        let eval = run.eval(entered.language, &context, &flow.variables);
        match entered.language {
            QueryLanguage::JsonPath => {
                let effective = eval.input_path(&state.common, input)?;
                match &state.common.parameters {
                    Some(parameters) => eval.template(parameters, &effective, "Parameters")?,
                    None => effective,
                }
            }
            QueryLanguage::Jsonata => {
                let states = eval.states(input, None, None);
                match &state.common.arguments {
                    Some(arguments) => eval.jsonata(arguments, &states, "Arguments")?,
                    None => input.clone(),
                }
            }
        }
    };

    let limits = Limits {
        run,
        entered,
        state,
        input,
        context: &context,
        flow,
    };
    let timeout = limits.seconds(
        task.timeout_seconds.as_ref(),
        task.timeout_seconds_path.as_deref(),
        "TimeoutSeconds",
    )?;
    let heartbeat = limits.seconds(
        task.heartbeat_seconds.as_ref(),
        task.heartbeat_seconds_path.as_deref(),
        "HeartbeatSeconds",
    )?;

    let kind = classify(&task.resource);
    // The scheduled event records the effective input as the state computed it, not the request
    // the integration then sends: AWS's TaskScheduled `parameters` is the evaluated
    // Parameters/Arguments. The recorded AWS histories (LocalStack's snapshots of
    // `test_sqs_task_service`, `test_sns_task_service`) hold exactly what the states'
    // Parameters produced, and LocalStack, checked against them, records its parameters before
    // it reduces them to the API's request. So for `sqs:sendMessage` this history keeps a
    // parameter SQS does not take, while `crate::sqs::send_message_request` drops it from the
    // request. No recording holds such a parameter (AWS checks a Task's literal Parameters
    // field names when the definition is created, "The field ... is not supported by Step
    // Functions", seen for an SDK integration in aws/aws-step-functions-data-science-sdk-python
    // #198; this engine's validator does not). The recordings do not settle whether an object MessageBody appears
    // in `parameters` as the object or as its text (their snapshots parse JSON text); it is
    // recorded as the object, as computed.
    let (prefix, mut scheduled) = match &kind {
        ResourceKind::Lambda => (
            "LambdaFunction",
            json!({"resource": task.resource, "input": json_text(&payload), "inputDetails": {"truncated": false}}),
        ),
        ResourceKind::Service {
            resource_type,
            resource,
        } => (
            "Task",
            json!({"resourceType": resource_type, "resource": resource, "region": "us-east-1", "parameters": json_text(&payload)}),
        ),
    };
    // Tasks take no simulated time here, so these limits are recorded but never reached.
    if let Value::Object(details) = &mut scheduled {
        if let Some(timeout) = timeout {
            details.insert("timeoutInSeconds".into(), json!(timeout));
        }
        if let (Some(heartbeat), ResourceKind::Service { .. }) = (heartbeat, &kind) {
            details.insert("heartbeatInSeconds".into(), json!(heartbeat));
        }
    }
    let lower = if prefix == "Task" {
        "task"
    } else {
        "lambdaFunction"
    };
    let camel = |suffix: &str| format!("{lower}{suffix}EventDetails");
    flow.cursor = run.push(
        &format!("{prefix}Scheduled"),
        flow.cursor,
        flow.now,
        Some((&camel("Scheduled"), scheduled)),
    );
    let started = match &kind {
        ResourceKind::Lambda => None,
        ResourceKind::Service {
            resource_type,
            resource,
        } => Some((
            camel("Started"),
            json!({"resourceType": resource_type, "resource": resource}),
        )),
    };
    flow.cursor = run.push(
        &format!("{prefix}Started"),
        flow.cursor,
        flow.now,
        started.as_ref().map(|(k, v)| (k.as_str(), v.clone())),
    );

    let outcome = run
        .options
        .tasks
        .invoke(entered.name, &task.resource, payload)
        .await;
    let result = match outcome {
        Ok(result) => result,
        Err(error) => {
            let mut details = json!({"error": error.error, "cause": error.cause});
            if let (
                ResourceKind::Service {
                    resource_type,
                    resource,
                },
                Value::Object(map),
            ) = (&kind, &mut details)
            {
                map.insert("resourceType".into(), json!(resource_type));
                map.insert("resource".into(), json!(resource));
            }
            flow.cursor = run.push(
                &format!("{prefix}Failed"),
                flow.cursor,
                flow.now,
                Some((&camel("Failed"), details)),
            );
            return Err(Failure::verbatim(Some(error.error), Some(error.cause)));
        }
    };
    let mut succeeded =
        json!({"output": json_text(&result), "outputDetails": {"truncated": false}});
    if let (
        ResourceKind::Service {
            resource_type,
            resource,
        },
        Value::Object(map),
    ) = (&kind, &mut succeeded)
    {
        map.insert("resourceType".into(), json!(resource_type));
        map.insert("resource".into(), json!(resource));
    }
    flow.cursor = run.push(
        &format!("{prefix}Succeeded"),
        flow.cursor,
        flow.now,
        Some((&camel("Succeeded"), succeeded)),
    );

    let eval = run.eval(entered.language, &context, &flow.variables);
    let (output, assigned) = match entered.language {
        QueryLanguage::JsonPath => {
            let selected = match &state.common.result_selector {
                Some(selector) => eval.template(selector, &result, "ResultSelector")?,
                None => result,
            };
            let assigned = eval.assign(state.common.assign.as_ref(), &selected, &Value::Null)?;
            let placed = eval.result_path(state.common.result_path.as_ref(), input, selected)?;
            (eval.output_path(&state.common, placed)?, assigned)
        }
        QueryLanguage::Jsonata => simple::jsonata_output(&eval, state, input, Some(&result))?,
    };
    exit_state(run, entered, state, output, assigned, None, flow)
}

/// What TimeoutSeconds / HeartbeatSeconds are evaluated against.
struct Limits<'a, 'r, 'o> {
    run: &'a Run<'o>,
    entered: &'a Entered<'r>,
    state: &'a State,
    input: &'a Value,
    context: &'a Value,
    flow: &'a Flow,
}

impl Limits<'_, '_, '_> {
    /// A literal, a JSONata template, or a `...Path` into the effective input.
    fn seconds(
        &self,
        literal: Option<&Value>,
        path: Option<&str>,
        field: &str,
    ) -> Result<Option<u64>, Failure> {
        let language = self.entered.language;
        let eval = self.run.eval(language, self.context, &self.flow.variables);
        let (value, error) = match (literal, path) {
            (_, Some(path)) => {
                let effective = eval.input_path(&self.state.common, self.input)?;
                (
                    eval.query(path, &effective, &format!("{field}Path"))?,
                    crate::error::names::RUNTIME,
                )
            }
            (Some(template @ Value::String(_)), None) if language == QueryLanguage::Jsonata => (
                eval.jsonata(template, &eval.states(self.input, None, None), field)?,
                crate::error::names::QUERY_EVALUATION_ERROR,
            ),
            (Some(value), None) => (value.clone(), crate::error::names::RUNTIME),
            (None, None) => return Ok(None),
        };
        match value.as_u64() {
            Some(seconds) if seconds > 0 => Ok(Some(seconds)),
            _ => Err(Failure::new(
                error,
                format!(
                    "The {field} field must be a positive integer, but was: {}",
                    json_text(&value)
                ),
            )),
        }
    }
}
