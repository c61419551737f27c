export * from '@theseus/contract/endpoints/registry-reader';
