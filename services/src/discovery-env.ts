export * from '@theseus/contract/discovery-env';
