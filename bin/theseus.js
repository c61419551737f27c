#!/usr/bin/env node
// The `theseus` command. Built sources live in each package's dist/ (`npm ci` builds them).
import { dispatch } from '@theseus/cli';

process.exitCode = await dispatch(process.argv.slice(2));
