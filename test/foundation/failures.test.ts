/**
 * One reading of a failure chain everywhere: the exit code the outermost
 * carrier names, the innermost message, the activity's error type. And a bug
 * in an activity (a TypeError) fails the step at once instead of being retried
 * as if the cloud were down.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  RetryState,
  TimeoutFailure,
  TimeoutType,
} from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { stageActivities, toStageFailure } from '../../activities/stage-failure';
import { DibctlError, ExitCode, detailsOf, exitCodeOf, failureOf, hasCause } from '../../errors';
import { CancelledFailure } from '@temporalio/common';
import { imageTestWorkflow } from '../../workflows';

function activityFailed(cause: Error): ActivityFailure {
  return new ActivityFailure(
    'Activity task failed',
    'bootInstance',
    '7',
    RetryState.NON_RETRYABLE_FAILURE,
    'worker@host',
    cause,
  );
}

function childFailed(cause: Error): ChildWorkflowFailure {
  return new ChildWorkflowFailure(
    'default',
    { workflowId: 'run-x-test', runId: 'r' },
    imageTestWorkflow.name,
    RetryState.NON_RETRYABLE_FAILURE,
    cause,
  );
}

describe('reading a failure chain', () => {
  it('takes the message of the innermost cause and the exit code its details carry', () => {
    const nova = ApplicationFailure.create({
      type: 'NovaBadRequestError',
      message: 'Nova answered 400: flavor too small',
      nonRetryable: true,
      details: [{ exitCode: 60 }],
    });
    const err = new WorkflowFailedError(
      'Workflow execution failed',
      childFailed(activityFailed(nova)),
      RetryState.NON_RETRYABLE_FAILURE,
    );
    expect(failureOf(err)).toEqual({
      exitCode: 60,
      message: 'Nova answered 400: flavor too small',
      type: 'NovaBadRequestError',
    });
    expect(exitCodeOf(err)).toBe(60);
  });

  it("prefers the workflow's own details (a failed test's result) to those of the activity inside", () => {
    const inner = ApplicationFailure.create({
      type: 'PortTimeoutError',
      message: 'Instance is not accepting connection',
      details: [{ exitCode: 71 }],
    });
    const outer = ApplicationFailure.create({
      type: 'PortTimeoutError',
      message: 'Instance is not accepting connection',
      details: [{ exitCode: 71, result: { passed: false } }],
    });
    const err = new WorkflowFailedError(
      'Workflow execution failed',
      new ApplicationFailure(outer.message, outer.type, true, outer.details, activityFailed(inner)),
      RetryState.NON_RETRYABLE_FAILURE,
    );
    expect(detailsOf<{ exitCode: number; result?: unknown }>(err)).toEqual({ exitCode: 71, result: { passed: false } });
    const publish = ApplicationFailure.create({
      type: 'PublishFailed',
      message: 'Publishing failed in two',
      details: [{ exitCode: 60, result: { failed: ['two'] } }],
    });
    expect(
      detailsOf(
        new WorkflowFailedError('x', publish, RetryState.NON_RETRYABLE_FAILURE),
        (f) => f.type === 'PublishFailed',
      ),
    ).toMatchObject({ result: { failed: ['two'] } });
    expect(
      detailsOf(new WorkflowFailedError('x', publish, RetryState.NON_RETRYABLE_FAILURE), (f) => f.type === 'Other'),
    ).toBeUndefined();
  });

  it('says exit code 1 and the timeout when a step ran out of time without a typed error', () => {
    const err = childFailed(
      activityFailed(new TimeoutFailure('activity StartToClose timeout', undefined, TimeoutType.START_TO_CLOSE)),
    );
    expect(failureOf(err)).toMatchObject({ exitCode: 1, message: 'activity StartToClose timeout' });
  });

  it('walks plain errors and their causes too, and survives a cycle', () => {
    const root = new DibctlError('Keystone refused authentication', ExitCode.AUTH);
    const wrapped = new Error('while uploading', { cause: root });
    expect(failureOf(wrapped).message).toBe('Keystone refused authentication');
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(failureOf(a).message).toBe('b');
    expect(failureOf('just a string')).toEqual({ exitCode: 1, message: 'just a string', type: 'Error' });
  });

  it('finds a cancellation anywhere in the chain', () => {
    const err = new WorkflowFailedError(
      'Workflow execution cancelled',
      new CancelledFailure('cancelled'),
      RetryState.NON_RETRYABLE_FAILURE,
    );
    expect(hasCause(err, CancelledFailure)).toBe(true);
    expect(hasCause(new Error('x'), CancelledFailure)).toBe(false);
  });
});

describe('errors leaving an activity', () => {
  it('fails a step at once with an internal error naming the workflow when the code throws a TypeError', async () => {
    const env = new MockActivityEnvironment({
      activityType: 'surveyObsoleteImages',
      workflowExecution: { workflowId: 'dibctl-retirement-one', runId: 'r' },
    });
    const acts = stageActivities({
      surveyObsoleteImages: async () => {
        const images = undefined as unknown as { length: number };
        return images.length;
      },
    });
    const err: ApplicationFailure = await env.run(acts.surveyObsoleteImages).then(
      () => {
        throw new Error('the broken step succeeded');
      },
      (e: ApplicationFailure) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe('InternalError');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/^Internal error in surveyObsoleteImages of workflow dibctl-retirement-one: /);
    expect(err.details).toEqual([{ exitCode: 1 }]);
  });

  it('keeps retrying what may pass (an unclassified error, a 5xx) and stops on what an operator must fix', () => {
    expect(toStageFailure(new Error('socket hang up'))).toMatchObject({ nonRetryable: false, type: 'Error' });
    expect(toStageFailure(new DibctlError('Keystone refused authentication', ExitCode.AUTH))).toMatchObject({
      nonRetryable: true,
      details: [{ exitCode: 20 }],
    });
    expect(toStageFailure(new RangeError('Invalid array length'))).toMatchObject({
      nonRetryable: true,
      type: 'InternalError',
    });
  });
});
