import type { ScenarioDevice, ScenarioStation } from './scenario';

type JsonObject = Record<string, unknown>;

// The property sets the simulator starts its devices and stations with, as eufy-security-ws reports
// them (`device.get_properties`, `station.get_properties`).

/** What `device.get_commands` lists for a camera; `start_livestream` is what marks a camera. */
export const CAMERA_COMMANDS = ['start_livestream', 'stop_livestream', 'is_livestreaming', 'set_property'];
/** Type 8 CAMERA2C (eufyCam on a HomeBase), 30 INDOOR_CAMERA (standalone), 0 STATION. */
const DEVICE_TYPE_CAMERA_ON_STATION = 8;
const DEVICE_TYPE_STANDALONE = 30;
const STATION_TYPE = 0;

/** A HomeBase of the scenario. */
export function homeBaseProperties(station: ScenarioStation): JsonObject {
  return {
    name: station.name,
    model: station.model,
    serialNumber: station.serialNumber,
    hardwareVersion: 'P1',
    softwareVersion: '3.2.4.4',
    type: STATION_TYPE,
    lanIpAddress: '192.0.2.10',
    macAddress: '02:00:00:00:00:01',
    guardMode: 1,
    currentMode: 1,
    ...station.properties,
  };
}

/** The station a standalone camera is to itself. */
export function standaloneStationProperties(config: ScenarioDevice): JsonObject {
  return {
    name: config.name,
    model: config.model,
    serialNumber: config.serialNumber,
    hardwareVersion: 'P1',
    softwareVersion: '2.2.1.1',
    type: DEVICE_TYPE_STANDALONE,
    lanIpAddress: '192.0.2.20',
    macAddress: '02:00:00:00:00:02',
    guardMode: 1,
    currentMode: 1,
  };
}

/** A camera: on a HomeBase or standalone, with a battery or mains-powered, then its own overrides. */
export function cameraProperties(
  config: ScenarioDevice,
  stationSerialNumber: string,
  standalone: boolean,
): JsonObject {
  return {
    name: config.name,
    model: config.model,
    serialNumber: config.serialNumber,
    hardwareVersion: 'HAIYI-IMX323',
    softwareVersion: '2.2.1.1',
    type: standalone ? DEVICE_TYPE_STANDALONE : DEVICE_TYPE_CAMERA_ON_STATION,
    stationSerialNumber,
    ...(config.battery === undefined ? {} : { battery: config.battery, batteryTemperature: 21 }),
    wifiRssi: -61,
    wifiSignalLevel: 3,
    enabled: true,
    state: config.state,
    motionDetection: true,
    motionDetected: false,
    personDetected: false,
    personName: '',
    petDetected: false,
    vehicleDetected: false,
    strangerPersonDetected: false,
    ringing: false,
    soundDetected: false,
    cryingDetected: false,
    rtspStream: false,
    rtspStreamUrl: '',
    picture: null,
    microphone: true,
    speaker: true,
    audioRecording: config.video.audio,
    powerSource: config.battery === undefined ? 1 : 0,
    ...config.properties,
  };
}
