/**
 * `dibctl test`, `shell`, `keep` and `discard` on the command line; the
 * commands themselves are in commands/test.ts.
 */
import type { Command } from 'commander';
import { Cli, example, imageFileOption, testEnvironmentOptions } from '../cli';
import type { TestOptions } from '../commands/test';
import { junitXmlOption } from '../report-options';

/** `test` and `shell`: everything the operator can get wrong is refused before the session. */
async function imageTestAction(cli: Cli, label: string, opts: TestOptions, mode: 'test' | 'shell'): Promise<void> {
  const { imageTest, prepareImageTest } = await import('../commands/test');
  const workerHere = (await cli.sessionMode()) === 'embedded';
  const { input, checkCredentials } = prepareImageTest(label, opts, mode, workerHere, cli.output().err);
  return cli.inSession((s, o) => imageTest(s, label, input, opts, o, cli.interrupted(), mode), {
    beforeLocalWorker: checkCredentials,
  });
}

export function register(program: Command, cli: Cli): void {
  testEnvironmentOptions(
    program
      .command('test')
      .description('upload a test copy of the image, boot it, run its tests, and remove everything (unless kept)')
      .argument('<label>', 'image label')
      .addOption(imageFileOption())
      .option('--upload-only', 'upload the test image and stop (the image is kept)')
      .option('--shell', 'on failure, open an SSH shell on the instance (exit 42 keeps it)')
      .addHelpText(
        'after',
        example(
          'dibctl test ubuntu-noble --keep-failed-instance',
          'boot the image, run its tests; if one fails, hold the instance for dibctl keep/discard',
        ),
      )
      .addOption(junitXmlOption()),
  ).action(async (label: string, opts: TestOptions) => imageTestAction(cli, label, opts, 'test'));

  testEnvironmentOptions(
    program
      .command('shell')
      .description('prepare an instance of the image and open an SSH shell on it, no tests (exit 42 keeps it)')
      .addHelpText(
        'after',
        example(
          'dibctl shell ubuntu-noble --environment lab',
          'boot the image in test environment lab and log in to it over SSH',
        ),
      )
      .argument('<label>', 'image label')
      .addOption(imageFileOption()),
  ).action(async (label: string, opts: TestOptions) => imageTestAction(cli, label, opts, 'shell'));

  program
    .command('keep')
    .description('keep the instance, key and image a test holds (or ask a running test to hold them if it fails)')
    .addHelpText(
      'after',
      example(
        'dibctl keep test-ubuntu-noble-3f2a9c1d',
        "keep the instance of that failed test for a closer look (its id is in the test's output)",
      ),
    )
    .argument('<workflow-id>')
    .action(async (id: string) => {
      const { decide } = await import('../commands/test');
      return cli.inSession((s, o) => decide(s, id, 'keep', o));
    });

  program
    .command('discard')
    .description('remove what a held test keeps now (or ask a running test to clean up even if it fails)')
    .addHelpText(
      'after',
      example('dibctl discard test-ubuntu-noble-3f2a9c1d', 'remove the instance, key and image that test holds now'),
    )
    .argument('<workflow-id>')
    .action(async (id: string) => {
      const { decide } = await import('../commands/test');
      return cli.inSession((s, o) => decide(s, id, 'discard', o));
    });
}
