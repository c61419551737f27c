#!/usr/bin/env node
// The Mesos external containerizer program: `theseus-containerizer <launch|wait|usage|...>`.
import { run } from '@theseus/containerizer/cli';

process.exitCode = await run('containerizer', process.argv.slice(2));
